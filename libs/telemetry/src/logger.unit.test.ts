import { PassThrough } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { createLogger } from './logger.js';

function capture(): { stream: PassThrough; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => chunks.push(chunk));
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { stream, lines };
}

describe('createLogger', () => {
  it('writes one JSON line per call with level label, service, node and msg', () => {
    const { stream, lines } = capture();
    const logger = createLogger({ service: 'c2s', node: 'node-a', level: 'info', destination: stream });
    logger.info({ session: 's1' }, 'session resumed');
    logger.child({ component: 'sm' }).warn('queue full');
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 'info',
        service: 'c2s',
        node: 'node-a',
        session: 's1',
        msg: 'session resumed',
      }),
      expect.objectContaining({
        level: 'warn',
        service: 'c2s',
        node: 'node-a',
        component: 'sm',
        msg: 'queue full',
      }),
    ]);
    expect(typeof lines()[0]?.['time']).toBe('number');
  });

  it('drops lines below the configured level', () => {
    const { stream, lines } = capture();
    const logger = createLogger({ service: 'c2s', node: 'node-a', level: 'warn', destination: stream });
    logger.info('not written');
    logger.debug('not written either');
    logger.error('written');
    expect(lines().map((line) => line['msg'])).toEqual(['written']);
  });
});
