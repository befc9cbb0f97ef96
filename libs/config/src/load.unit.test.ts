import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from './load.js';

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const { config, warnings } = loadConfig({});
    expect(config.hibernation_time_s).toBe(600);
    expect(config.max_queue_size).toBe(5000);
    expect(config.max_inactive_unacked_stanzas).toBe(256);
    expect(config.unacked_message_policy).toBe('offline');
    expect(config.location).toBeUndefined();
    expect(config.ping_muc_delay_s).toBe(60);
    expect(config.ping_muc_kick_reason).toBe("Lost contact with the room's server");
    expect(config.nats_url).toBe('nats://127.0.0.1:4222');
    expect(config.node_id.length).toBeGreaterThan(0);
    expect(warnings).toEqual([]);
  });

  it('reads the spec test profile from SM_ variables', () => {
    const { config } = loadConfig({
      SM_HIBERNATION_TIME_S: '5',
      SM_MAX_QUEUE_SIZE: '5',
      SM_MAX_HIBERNATED_SESSIONS: '2',
      SM_MAX_OLD_SESSIONS: '2',
      SM_MAX_ACK_DELAY_S: '2',
      SM_READ_TIMEOUT_S: '4',
      SM_ENABLED_S2S: 'false',
      SM_UNACKED_MESSAGE_POLICY: 'noerror',
    });
    expect(config).toMatchObject({
      hibernation_time_s: 5,
      max_queue_size: 5,
      max_hibernated_sessions: 2,
      max_old_sessions: 2,
      max_ack_delay_s: 2,
      read_timeout_s: 4,
      enabled_s2s: false,
      unacked_message_policy: 'noerror',
    });
  });

  it('clamps ack thresholds below max_queue_size with a warning (spec §3)', () => {
    const { config, warnings } = loadConfig({ SM_MAX_QUEUE_SIZE: '5' });
    expect(config.max_inactive_unacked_stanzas).toBe(4);
    expect(config.max_unacked_stanzas).toBe(0);
    expect(warnings).toEqual([
      'SM_MAX_INACTIVE_UNACKED_STANZAS=256 is not below max_queue_size; clamped to 4',
    ]);
  });

  it('reports every invalid value at once, naming the variable', () => {
    let caught: unknown;
    try {
      loadConfig({
        SM_MAX_QUEUE_SIZE: '0',
        SM_HIBERNATION_TIME_S: '1.5',
        SM_ENABLED_S2S: 'maybe',
        SM_UNACKED_MESSAGE_POLICY: 'lose',
        NATS_URL: 'http://x',
        PING_MUC_DELAY_S: '0',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.code).toBe('HF_CONFIG_INVALID');
    expect(error.problems).toEqual([
      'NATS_URL="http://x": expected a URL with scheme nats: or tls:',
      'SM_HIBERNATION_TIME_S="1.5": expected an integer >= 0',
      'SM_MAX_QUEUE_SIZE="0": expected an integer >= 1',
      'SM_ENABLED_S2S="maybe": expected true or false',
      'SM_UNACKED_MESSAGE_POLICY="lose": expected one of offline, noerror, bounce',
      'PING_MUC_DELAY_S="0": expected an integer >= 1',
    ]);
  });

  it('treats empty values as unset and trims whitespace', () => {
    const { config } = loadConfig({
      SM_HIBERNATION_TIME_S: '',
      SM_MAX_QUEUE_SIZE: ' 7 ',
      SM_LOCATION: 'x.example',
    });
    expect(config.hibernation_time_s).toBe(600);
    expect(config.max_queue_size).toBe(7);
    expect(config.location).toBe('x.example');
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadConfig({}).config)).toBe(true);
  });
});
