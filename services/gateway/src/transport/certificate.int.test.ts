import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadOrGenerateCertificate } from './certificate.js';
import { CertificateError } from './errors.js';

const DAY_MS = 24 * 3_600_000;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'holdfast-cert-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('generated certificate', () => {
  it('is a self-signed EC P-256 certificate for the domain, localhost and loopback, valid a year', async () => {
    const now = new Date('2026-03-01T12:00:00Z');
    const certificate = await loadOrGenerateCertificate({ domain: 'example.org', now });
    expect(certificate.generated).toBe(true);

    const x509 = new X509Certificate(certificate.cert);
    expect(x509.subject).toBe('CN=example.org');
    expect(x509.issuer).toBe('CN=example.org');
    const altNames = (x509.subjectAltName ?? '').split(', ');
    expect(altNames).toEqual([
      'DNS:example.org',
      'DNS:localhost',
      'IP Address:127.0.0.1',
      'IP Address:0:0:0:0:0:0:0:1',
    ]);
    expect(x509.checkHost('example.org')).toBe('example.org');
    expect(x509.checkHost('localhost')).toBe('localhost');
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x509.checkIP('::1')).toBe('::1');
    expect(x509.ca).toBe(false);
    expect(x509.publicKey.asymmetricKeyType).toBe('ec');
    expect(x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(x509.checkPrivateKey(createPrivateKey(certificate.key))).toBe(true);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(certificate.fingerprint256).toBe(x509.fingerprint256);

    const from = x509.validFromDate.getTime();
    const to = x509.validToDate.getTime();
    expect(from).toBeLessThanOrEqual(now.getTime());
    expect(now.getTime() - from).toBeLessThanOrEqual(DAY_MS);
    expect(to - from).toBe(365 * DAY_MS);
  });

  it('names localhost once when it is the domain', async () => {
    const certificate = await loadOrGenerateCertificate({ domain: 'localhost' });
    const x509 = new X509Certificate(certificate.cert);
    expect(x509.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  });
});

describe('certificate files', () => {
  it('reads a PEM certificate and its key', async () => {
    const generated = await loadOrGenerateCertificate({ domain: 'example.org' });
    const certFile = path.join(dir, 'good.crt');
    const keyFile = path.join(dir, 'good.key');
    await writeFile(certFile, generated.cert);
    await writeFile(keyFile, generated.key);

    const loaded = await loadOrGenerateCertificate({ certFile, keyFile, domain: 'example.org' });
    expect(loaded).toEqual({
      cert: generated.cert,
      key: generated.key,
      generated: false,
      fingerprint256: generated.fingerprint256,
    });
  });

  it('names the file that cannot be read', async () => {
    const keyFile = path.join(dir, 'any.key');
    await writeFile(keyFile, 'unused');
    const certFile = path.join(dir, 'missing.crt');
    const attempt = loadOrGenerateCertificate({ certFile, keyFile, domain: 'example.org' });
    await expect(attempt).rejects.toBeInstanceOf(CertificateError);
    await expect(attempt).rejects.toMatchObject({
      code: 'HF_TRANSPORT_CERTIFICATE',
      message: expect.stringContaining(certFile) as unknown,
    });
  });

  it('names a file that is not PEM, and a key that does not belong to the certificate', async () => {
    const first = await loadOrGenerateCertificate({ domain: 'example.org' });
    const second = await loadOrGenerateCertificate({ domain: 'example.org' });
    const certFile = path.join(dir, 'first.crt');
    const keyFile = path.join(dir, 'second.key');
    const junkFile = path.join(dir, 'junk.pem');
    await writeFile(certFile, first.cert);
    await writeFile(keyFile, second.key);
    await writeFile(junkFile, 'not a certificate\n');

    await expect(loadOrGenerateCertificate({ certFile: junkFile, keyFile, domain: 'x' })).rejects.toThrow(
      `certificate file ${junkFile} does not hold a PEM certificate`,
    );
    await expect(loadOrGenerateCertificate({ certFile, keyFile: junkFile, domain: 'x' })).rejects.toThrow(
      `key file ${junkFile} does not hold`,
    );
    await expect(loadOrGenerateCertificate({ certFile, keyFile, domain: 'x' })).rejects.toThrow(
      `the key in ${keyFile} does not belong to the certificate in ${certFile}`,
    );
  });

  it('wants both files or neither', async () => {
    await expect(loadOrGenerateCertificate({ certFile: '/etc/x.crt', domain: 'x' })).rejects.toThrow(
      'certificate file /etc/x.crt given without a key file',
    );
    await expect(loadOrGenerateCertificate({ keyFile: '/etc/x.key', domain: 'x' })).rejects.toThrow(
      'key file /etc/x.key given without a certificate file',
    );
  });
});
