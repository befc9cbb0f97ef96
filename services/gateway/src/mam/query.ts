import { JidError, NS, parseJid, type Element, type StanzaErrorInit } from '@holdfast/xmpp';

/** An archive query (XEP-0313 §4) with its result set management (XEP-0059), as the client asked it. */
export interface MamQuery {
  /** Echoed in every result, so the client can tell its queries apart (§4). */
  readonly queryId: string | undefined;
  /** `with` (§4.1.1): a bare JID matches every resource of it, a full JID only itself. */
  readonly with: { readonly bare: string; readonly full?: string } | undefined;
  /** `start` and `end` (§4.1.2) as the first and the last whole millisecond that match. */
  readonly startMs: number | undefined;
  readonly endMs: number | undefined;
  /** `after-id`, `before-id` and `ids` (§4.1.3, `urn:xmpp:mam:2#extended`). */
  readonly afterId: string | undefined;
  readonly beforeId: string | undefined;
  readonly ids: readonly string[] | undefined;
  /** RSM `<max/>`, `<after/>` and `<before/>` (XEP-0059 §2); `before` '' asks for the last page (§2.5). */
  readonly max: number | undefined;
  readonly after: string | undefined;
  readonly before: string | undefined;
  /** `<flip-page/>` (§4.3.4): the page is sent newest first. */
  readonly flip: boolean;
}

export type ParsedQuery =
  | { readonly kind: 'query'; readonly query: MamQuery }
  | { readonly kind: 'error'; readonly error: StanzaErrorInit };

/** The fields this server understands, as answered to an iq get (§4.1.5); others are refused. */
export const FORM_FIELDS = [
  { var: 'with', type: 'jid-single' },
  { var: 'start', type: 'text-single' },
  { var: 'end', type: 'text-single' },
  { var: 'after-id', type: 'text-single' },
  { var: 'before-id', type: 'text-single' },
  { var: 'ids', type: 'list-multi' },
] as const;

const badRequest = (text: string): ParsedQuery => ({
  kind: 'error',
  error: { type: 'modify', condition: 'bad-request', text },
});

const notImplemented = (text: string): ParsedQuery => ({
  kind: 'error',
  error: { type: 'cancel', condition: 'feature-not-implemented', text },
});

/**
 * Parses `<query xmlns='urn:xmpp:mam:2'/>`: its data form (XEP-0004, FORM_TYPE `urn:xmpp:mam:2`) and
 * RSM set. Malformed values are `bad-request`; a field this server does not know is
 * `feature-not-implemented` (§4.1.5 MUST), as are RSM `<index/>` and pubsub `node` archives (XEP-0442).
 */
export function parseQuery(query: Element): ParsedQuery {
  if (query.attrs.node !== undefined) return notImplemented('only user archives are served here');
  const form = query.getChild('x', NS.DATA_FORMS);
  const filters = form === undefined ? {} : parseForm(form);
  if ('kind' in filters) return filters;
  const set = query.getChild('set', NS.RSM);
  const paging = set === undefined ? {} : parseSet(set);
  if ('kind' in paging) return paging;
  return {
    kind: 'query',
    query: {
      queryId: query.attrs.queryid,
      with: filters.with,
      startMs: filters.startMs,
      endMs: filters.endMs,
      afterId: filters.afterId,
      beforeId: filters.beforeId,
      ids: filters.ids,
      max: paging.max,
      after: paging.after,
      before: paging.before,
      flip: query.getChild('flip-page', NS.MAM) !== undefined,
    },
  };
}

type Filters = Partial<Pick<MamQuery, 'with' | 'startMs' | 'endMs' | 'afterId' | 'beforeId' | 'ids'>>;

function parseForm(form: Element): Filters | ParsedQuery {
  const type = form.attrs.type;
  if (type !== undefined && type !== 'submit') return badRequest(`a query form is submitted, not '${type}'`);
  const filters: { -readonly [K in keyof Filters]: Filters[K] } = {};
  for (const field of form.getChildren('field')) {
    const name = field.attrs.var;
    const values = field.getChildren('value').map((value) => value.getText());
    if (name === undefined) return badRequest('a field without var');
    if (name === 'ids') {
      if (values.some((id) => id === '')) return badRequest('an empty id in ids');
      if (values.length > 0) filters.ids = values;
      continue;
    }
    if (values.length > 1) return badRequest(`${name} takes one value`);
    const value = values[0];
    switch (name) {
      case 'FORM_TYPE':
        if (value !== undefined && value !== NS.MAM) return badRequest(`FORM_TYPE is ${NS.MAM}`);
        break;
      case 'with': {
        if (value === undefined) break;
        const jid = jidOf(value);
        if (jid === undefined) return badRequest('with is not a JID');
        filters.with = jid;
        break;
      }
      case 'start':
      case 'end': {
        if (value === undefined) break;
        const time = parseDateTime(value);
        if (time === undefined) return badRequest(`${name} is not a XEP-0082 DateTime`);
        // Timestamps are whole milliseconds: `start` rounds up, `end` down, so both stay inclusive.
        if (name === 'start') filters.startMs = time.exact ? time.ms : time.ms + 1;
        else filters.endMs = time.ms;
        break;
      }
      case 'after-id':
      case 'before-id':
        if (value === undefined) break;
        if (value === '') return badRequest(`${name} is empty`);
        if (name === 'after-id') filters.afterId = value;
        else filters.beforeId = value;
        break;
      default:
        return notImplemented(`unknown field ${name}`);
    }
  }
  return filters;
}

type Paging = Partial<Pick<MamQuery, 'max' | 'after' | 'before'>>;

function parseSet(set: Element): Paging | ParsedQuery {
  if (set.getChild('index') !== undefined) return notImplemented('paging by index');
  const paging: { -readonly [K in keyof Paging]: Paging[K] } = {};
  const max = set.getChild('max');
  if (max !== undefined) {
    const text = max.getText().trim();
    // XEP-0059 §2.1: a non-negative integer (a larger one than the server's cap gets the cap).
    if (!/^\d+$/.test(text)) return badRequest('max is a non-negative integer');
    paging.max = Number(text);
  }
  const after = set.getChild('after');
  if (after !== undefined) {
    if (after.getText() === '') return badRequest('after names an item');
    paging.after = after.getText();
  }
  const before = set.getChild('before');
  if (before !== undefined) paging.before = before.getText();
  return paging;
}

function jidOf(value: string): MamQuery['with'] {
  try {
    const jid = parseJid(value);
    const bare = jid.bare().toString();
    return jid.resource === undefined ? { bare } : { bare, full: jid.toString() };
  } catch (error) {
    if (error instanceof JidError) return undefined;
    throw error;
  }
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * XEP-0082 DateTime (`CCYY-MM-DDThh:mm:ss[.sss]TZD`) as milliseconds since the epoch, rounded down;
 * `exact` when no fraction was lost. Undefined when it is not one (calendar dates checked too).
 */
export function parseDateTime(text: string): { readonly ms: number; readonly exact: boolean } | undefined {
  const match = DATE_TIME.exec(text);
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fraction = match[7] ?? '';
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(local);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    check.getUTCHours() !== hour ||
    check.getUTCMinutes() !== minute ||
    check.getUTCSeconds() !== second
  ) {
    return undefined;
  }
  let offsetMinutes = 0;
  if (match[8] !== 'Z') {
    const hours = Number(match[10]);
    const minutes = Number(match[11]);
    if (hours > 23 || minutes > 59) return undefined;
    offsetMinutes = (match[9] === '-' ? -1 : 1) * (hours * 60 + minutes);
  }
  const ms = local - offsetMinutes * 60_000 + Number(fraction.slice(0, 3).padEnd(3, '0'));
  return { ms, exact: !/[1-9]/.test(fraction.slice(3)) };
}
