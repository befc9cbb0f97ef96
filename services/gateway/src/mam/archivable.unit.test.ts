import { NS, xml, type Element } from '@holdfast/xmpp';
import { describe, expect, it } from 'vitest';

import { isArchivable, withStanzaId, withoutStanzaIdsBy } from './archivable.js';

const ALICE = 'alice@example.com';

function message(attrs: Record<string, string> = {}, ...children: Element[]): Element {
  return xml(
    'message',
    { xmlns: NS.CLIENT, from: 'bob@example.com/desk', to: `${ALICE}/phone`, ...attrs },
    ...children,
  );
}

const body = (): Element => xml('body', {}, 'hi');
const stanzaId = (by: string, id = 'x'): Element => xml('stanza-id', { xmlns: NS.SID, by, id });

describe('isArchivable (XEP-0313 §6.1.1)', () => {
  it.each([
    ['chat with a body', message({ type: 'chat' }, body()), true],
    ['normal with a body', message({ type: 'normal' }, body()), true],
    ['no type (normal) with a body', message({}, body()), true],
    ['an unknown type (normal, RFC 6121 §5.2.2) with a body', message({ type: 'fancy' }, body()), true],
    ['chat without a body (a chat state)', message({ type: 'chat' }, xml('active')), false],
    [
      'chat without a body but a <store/> hint',
      message({ type: 'chat' }, xml('store', { xmlns: NS.HINTS })),
      true,
    ],
    ['chat with <no-store/>', message({ type: 'chat' }, body(), xml('no-store', { xmlns: NS.HINTS })), false],
    [
      'chat with <no-permanent-store/>',
      message({ type: 'chat' }, body(), xml('no-permanent-store', { xmlns: NS.HINTS })),
      false,
    ],
    ['error', message({ type: 'error' }, body()), false],
    ['groupchat', message({ type: 'groupchat' }, body()), false],
    ['headline', message({ type: 'headline' }, body()), false],
    [
      'a MAM result',
      message({}, xml('result', { xmlns: NS.MAM, id: 'a' }, xml('forwarded', { xmlns: NS.FORWARD }))),
      false,
    ],
    ['a sent carbon', message({ type: 'chat' }, body(), xml('sent', { xmlns: NS.CARBONS })), false],
    ['a received carbon', message({ type: 'chat' }, body(), xml('received', { xmlns: NS.CARBONS })), false],
    ['a presence', xml('presence', { xmlns: NS.CLIENT }, xml('status', {}, 'x')), false],
  ])('%s: %s', (_what, stanza, expected) => {
    expect(isArchivable(stanza)).toBe(expected);
  });
});

describe('stanza-ids (XEP-0359 §4)', () => {
  it("strips every stanza-id claiming the recipient's archive, in any case; keeps the others and origin-id", () => {
    const forged = message(
      { type: 'chat' },
      body(),
      stanzaId(ALICE, 'forged-1'),
      stanzaId('Alice@EXAMPLE.com', 'forged-2'),
      stanzaId('room@muc.example.com', 'room-1'),
      xml('origin-id', { xmlns: NS.SID, id: 'o1' }),
      xml('stanza-id', { xmlns: 'urn:other', by: ALICE, id: 'other-ns' }),
    );
    const clean = withoutStanzaIdsBy(forged, ALICE);
    expect(clean.getChildren('stanza-id', NS.SID).map((child) => child.attrs.id)).toEqual(['room-1']);
    expect(clean.getChild('origin-id', NS.SID)?.attrs.id).toBe('o1');
    expect(clean.getChild('stanza-id', 'urn:other')).toBeDefined();
    expect(clean.getChildText('body')).toBe('hi');
    // The original is untouched.
    expect(forged.getChildren('stanza-id', NS.SID)).toHaveLength(3);
  });

  it('returns the message itself when there is nothing to strip', () => {
    const plain = message({ type: 'chat' }, body(), stanzaId('bob@example.com'));
    expect(withoutStanzaIdsBy(plain, ALICE)).toBe(plain);
  });

  it("adds the archive's stanza-id to a copy", () => {
    const plain = message({ type: 'chat' }, body());
    const stamped = withStanzaId(plain, ALICE, 'id-1');
    expect(stamped.getChild('stanza-id', NS.SID)?.attrs).toEqual({ xmlns: NS.SID, by: ALICE, id: 'id-1' });
    expect(plain.getChild('stanza-id', NS.SID)).toBeUndefined();
  });
});
