import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';

import { generate } from 'selfsigned';

import { CertificateError } from './errors.js';

export interface CertificateOptions {
  /** PEM certificate chain, leaf first. Given together with `keyFile`, or neither is. */
  readonly certFile?: string | undefined;
  /** PEM private key (unencrypted) for `certFile`. */
  readonly keyFile?: string | undefined;
  /** The XMPP domain: CN and first subjectAltName of a generated certificate. */
  readonly domain: string;
  /** Start of a generated certificate's validity; the current time when omitted. */
  readonly now?: Date;
}

/** What a TLS listener serves. */
export interface TlsCredentials {
  /** PEM certificate chain, leaf first. */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
}

export interface Certificate extends TlsCredentials {
  /** True when no files were configured and a self-signed certificate was made. */
  readonly generated: boolean;
  /** SHA-256 fingerprint of the leaf certificate, colon-separated hex (for logs and manual pinning). */
  readonly fingerprint256: string;
}

const HOUR_MS = 3_600_000;
const VALIDITY_MS = 365 * 24 * HOUR_MS;

/**
 * The certificate for c2s TLS (STARTTLS, direct TLS, wss): the configured PEM files, checked to parse and to
 * belong together so that a bad deployment fails at start rather than in every client's handshake; without
 * files, a self-signed EC P-256 certificate for `domain`, fit for development and tests only.
 */
export async function loadOrGenerateCertificate(options: CertificateOptions): Promise<Certificate> {
  const { certFile, keyFile } = options;
  if (certFile !== undefined && keyFile !== undefined) return load(certFile, keyFile);
  if (certFile !== undefined)
    throw new CertificateError(`certificate file ${certFile} given without a key file`);
  if (keyFile !== undefined)
    throw new CertificateError(`key file ${keyFile} given without a certificate file`);
  return generateSelfSigned(options.domain, options.now ?? new Date());
}

async function load(certFile: string, keyFile: string): Promise<Certificate> {
  const [cert, key] = await Promise.all([readPem(certFile, 'certificate'), readPem(keyFile, 'key')]);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new CertificateError(`certificate file ${certFile} does not hold a PEM certificate`, {
      cause: error,
    });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new CertificateError(`key file ${keyFile} does not hold an unencrypted PEM private key`, {
      cause: error,
    });
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new CertificateError(`the key in ${keyFile} does not belong to the certificate in ${certFile}`);
  }
  return { cert, key, generated: false, fingerprint256: x509.fingerprint256 };
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CertificateError(`cannot read ${what} file ${file}: ${reason}`, { cause: error });
  }
}

async function generateSelfSigned(domain: string, now: Date): Promise<Certificate> {
  // An hour of slack for clients whose clock runs behind ours.
  const notBeforeDate = new Date(now.getTime() - HOUR_MS);
  const dnsNames = [...new Set([domain, 'localhost'])].filter((name) => isIP(name) === 0);
  const ips = [...new Set([...(isIP(domain) === 0 ? [] : [domain]), '127.0.0.1', '::1'])];
  const pems = await generate([{ name: 'commonName', value: domain }], {
    keyType: 'ec',
    curve: 'P-256',
    // selfsigned signs with SHA-1 unless told otherwise, which current TLS stacks refuse.
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + VALIDITY_MS),
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...dnsNames.map((value) => ({ type: 2 as const, value })),
          ...ips.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  return {
    cert: pems.cert,
    key: pems.private,
    generated: true,
    fingerprint256: new X509Certificate(pems.cert).fingerprint256,
  };
}
