import { StreamParser, type Element } from '@holdfast/xmpp';

/** Stanzas travel between processes as XML text; the transport's own size cap applied on the way in. */
const MAX_INTERNAL_STANZA = 16 * 1024 * 1024;

/** Parses one serialized stanza (from NATS or the offline store) back into an element. */
export function parseStanza(text: string): Element {
  let parsed: Element | undefined;
  let failure: Error | undefined;
  const parser = new StreamParser(
    {
      streamStart: () => undefined,
      element: (element) => {
        parsed ??= element;
      },
      streamEnd: () => undefined,
      error: (error) => {
        failure = error;
      },
    },
    { mode: 'framed', maxStanzaSize: MAX_INTERNAL_STANZA },
  );
  parser.write(text);
  if (parsed === undefined)
    throw new Error(`not a stanza: ${failure?.message ?? 'empty'}`, { cause: failure });
  return parsed;
}
