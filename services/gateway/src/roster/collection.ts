/** How many writes a writer may fall behind and still recognise its write in the latest version's lineage. */
export const ROSTER_LINEAGE = 16;

/** Prepared bare JIDs contain no line feed (RFC 7622 allows no control characters), so ids cannot collide. */
export function rosterDocumentId(owner: string, jid: string, version: number): string {
  return `${owner}\n${jid}\n${version}`;
}
