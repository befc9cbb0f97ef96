import { NS, xml, type Element, type XmlChild } from '@holdfast/xmpp';

/** What a test puts into a MAM query (XEP-0313 §4): form fields, the RSM set, flip-page. */
export interface MamQueryOptions {
  readonly to?: string;
  readonly fields?: Readonly<Record<string, string | readonly string[]>>;
  readonly max?: number | string;
  readonly after?: string;
  /** '' = an empty `<before/>` (the last page). */
  readonly before?: string;
  readonly flip?: boolean;
}

/** `<iq type='set'><query xmlns='urn:xmpp:mam:2' queryid=id>…</query></iq>`, the query id = the iq id. */
export function mamQuery(id: string, options: MamQueryOptions = {}): Element {
  const fields = Object.entries(options.fields ?? {});
  const set: XmlChild[] = [
    options.max === undefined ? null : xml('max', {}, String(options.max)),
    options.after === undefined ? null : xml('after', {}, options.after),
    options.before === undefined ? null : xml('before', {}, options.before),
  ];
  return xml(
    'iq',
    { type: 'set', id, to: options.to },
    xml(
      'query',
      { xmlns: NS.MAM, queryid: id },
      fields.length === 0
        ? null
        : xml(
            'x',
            { xmlns: NS.DATA_FORMS, type: 'submit' },
            xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS.MAM)),
            ...fields.map(([name, value]) =>
              xml(
                'field',
                { var: name },
                ...(typeof value === 'string' ? [value] : value).map((v) => xml('value', {}, v)),
              ),
            ),
          ),
      set.some((child) => child !== null) ? xml('set', { xmlns: NS.RSM }, ...set) : null,
      options.flip === true ? xml('flip-page', { xmlns: NS.MAM }) : null,
    ),
  );
}

/** One result of a query: its archive id, stamp and the forwarded message. */
export interface MamResult {
  readonly id: string;
  readonly stamp: string;
  readonly message: Element;
}

/** The results of query `id` among `received`, in the order they came. */
export function mamResults(received: readonly Element[], id: string): MamResult[] {
  return received.flatMap((stanza) => {
    const result = stanza.name === 'message' ? stanza.getChild('result', NS.MAM) : undefined;
    if (result?.attrs.queryid !== id) return [];
    const forwarded = result.getChild('forwarded', NS.FORWARD);
    const message = forwarded?.getChild('message');
    if (message === undefined) return [];
    return [
      {
        id: result.attrs.id ?? '',
        stamp: forwarded?.getChild('delay', NS.DELAY)?.attrs.stamp ?? '',
        message,
      },
    ];
  });
}

/** The `<fin/>` of an iq result: complete, and the RSM first/last/count. */
export function finOf(iq: Element): {
  complete: string | undefined;
  first: string | undefined;
  last: string | undefined;
  count: string | undefined;
} {
  const fin = iq.getChild('fin', NS.MAM);
  const set = fin?.getChild('set', NS.RSM);
  return {
    complete: fin?.attrs.complete,
    first: set?.getChildText('first') ?? undefined,
    last: set?.getChildText('last') ?? undefined,
    count: set?.getChildText('count') ?? undefined,
  };
}

/** The stanza-id the archive of `by` put on a delivered message. */
export function stanzaIdBy(message: Element, by: string): string | undefined {
  return message.getChildren('stanza-id', NS.SID).find((child) => child.attrs.by === by)?.attrs.id;
}
