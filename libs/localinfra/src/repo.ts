import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The repository root: the nearest ancestor holding scripts/versions.env (works from src/ and dist/). */
export function repoRoot(from: string = import.meta.dirname): string {
  let dir = from;
  for (;;) {
    if (existsSync(path.join(dir, 'scripts', 'versions.env'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no scripts/versions.env above ${from}`);
    dir = parent;
  }
}

/** Pinned versions from scripts/versions.env, the single place they are declared. */
export function pinnedVersions(root: string = repoRoot()): Readonly<Record<string, string>> {
  const versions: Record<string, string> = {};
  for (const line of readFileSync(path.join(root, 'scripts', 'versions.env'), 'utf8').split('\n')) {
    const match = /^([A-Z0-9_a-z]+)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) versions[match[1]] = match[2];
  }
  return versions;
}

/** Path of a binary installed by scripts/setup.sh, with a remedy when it is missing. */
export function toolPath(name: 'nats-server' | 'ferretdb', root: string = repoRoot()): string {
  const file = path.join(root, '.tools', 'bin', name);
  if (!existsSync(file)) {
    throw new Error(
      `${file} is missing: run ./holdfast setup (or set NATS_URL / MONGO_URL to existing servers)`,
    );
  }
  return file;
}
