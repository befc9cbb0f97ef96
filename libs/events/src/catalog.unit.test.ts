import { describe, expect, it } from 'vitest';

import { SmHibernationStanzaQueued, StanzaSent, sessionQueueSubjects } from './catalog.js';

describe('sessionQueueSubjects', () => {
  it('are the literal subjects a session’s sent and queued stanzas are published on', () => {
    const session = 'qL3v9x_Rk2';
    const subjects = sessionQueueSubjects(session);
    expect(subjects).toEqual([
      StanzaSent.subject({ session, stanza: '<message/>' }),
      SmHibernationStanzaQueued.subject({
        session,
        jid: 'a@localhost/r',
        stanza: '<message/>',
        queueLength: 1,
      }),
    ]);
    for (const subject of subjects) expect(subject).not.toMatch(/(^|\.)[*>](\.|$)/);
  });
});
