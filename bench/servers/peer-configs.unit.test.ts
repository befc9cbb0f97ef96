import { describe, expect, it } from 'vitest';

import { ejabberdConfig, ejabberdCtlConfig, prosodyConfig, xep0227Users } from './peer-configs.js';

describe('prosodyConfig', () => {
  const text = prosodyConfig({ dir: '/tmp/p', port: 4321, domain: 'localhost' });

  it('listens on one loopback port without TLS and allows PLAIN in the clear', () => {
    expect(text).toContain('c2s_ports = { 4321 }');
    expect(text).toContain('c2s_interfaces = { "127.0.0.1" }');
    expect(text).toContain('c2s_require_encryption = false');
    expect(text).toContain('allow_unencrypted_plain_auth = true');
  });

  it('enables smacks with a queue that holds 1000 stanzas, and offline storage', () => {
    expect(text).toMatch(/modules_enabled = \{[^}]*"smacks"[^}]*"offline"/);
    expect(text).toContain('smacks_max_queue_size = 5000');
    expect(text).toContain('smacks_hibernation_time = 600');
    expect(text).not.toContain('"limits"');
    expect(text).toContain('data_path = "/tmp/p/data"');
  });
});

describe('ejabberdConfig', () => {
  const text = ejabberdConfig({ port: 5555, domain: 'localhost' });

  it('has one plaintext c2s listener on loopback and stream management with resumption', () => {
    expect(text).toContain('port: 5555');
    expect(text).toContain('ip: "127.0.0.1"');
    expect(text).toContain('starttls_required: false');
    expect(text).toContain('mod_stream_mgmt:');
    expect(text).toContain('max_ack_queue: 5000');
    expect(text).toContain('resume_timeout: 600');
    expect(text).toContain('mod_offline:');
    expect(text).not.toContain('mod_mam');
    expect(text).not.toContain('shaper:');
  });

  it('keeps Erlang distribution on loopback', () => {
    expect(ejabberdCtlConfig({ node: 'b@localhost', distPort: 7000 })).toContain(
      'INET_DIST_INTERFACE=127.0.0.1',
    );
  });
});

describe('xep0227Users', () => {
  it('lists every account under the host, escaped', () => {
    const text = xep0227Users('localhost', [
      { name: 'a', password: "p'<&" },
      { name: 'b', password: 'q' },
    ]);
    expect(text).toContain("<host jid='localhost'>");
    expect(text).toContain("<user name='a' password='p&apos;&lt;&amp;'/>");
    expect(text).toContain("<user name='b' password='q'/>");
  });
});
