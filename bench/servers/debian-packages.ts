import { existsSync } from 'node:fs';

import { childEnvironment } from '@holdfast/config';

import { runCommand } from './processes.js';

/**
 * Installs a Debian package when its binary is missing: with apt-get when running as root, otherwise a
 * clear error (the peer is then skipped). The package's own system service is not used.
 */
export async function ensureDebianPackage(
  pkg: string,
  binary: string,
  say: (line: string) => void,
): Promise<void> {
  if (existsSync(binary)) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${binary} is missing and this is not root: install it with 'apt-get install ${pkg}' to benchmark ${pkg}`,
    );
  }
  say(`installing ${pkg} with apt-get (its system service is not used)`);
  const env = childEnvironment({ DEBIAN_FRONTEND: 'noninteractive' });
  let result = await runCommand('apt-get', ['install', '-y', '-q', pkg], { env, timeoutMs: 600_000 });
  if (result.code !== 0) {
    await runCommand('apt-get', ['update', '-q'], { env, timeoutMs: 300_000 });
    result = await runCommand('apt-get', ['install', '-y', '-q', pkg], { env, timeoutMs: 600_000 });
  }
  if (result.code !== 0 || !existsSync(binary)) {
    throw new Error(`apt-get install ${pkg} failed:\n${result.output.slice(-2000)}`);
  }
}

/** The installed version of a Debian package, or 'unknown'. */
export async function debianVersion(pkg: string): Promise<string> {
  const result = await runCommand('dpkg-query', ['-W', '-f=${Version}', pkg], { timeoutMs: 10_000 });
  return result.code === 0 ? result.output.trim() : 'unknown';
}
