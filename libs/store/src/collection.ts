import type { Document } from 'mongodb';

/**
 * An index both MongoDB and FerretDB 1.24 (SQLite) can build: plain or compound keys, optionally unique.
 * TTL (`expireAfterSeconds`) and partial indexes are rejected by FerretDB 1.x, so they are not
 * expressible here; expiry is a job for the timeout service. See docs/ferretdb-compatibility.md.
 */
export interface IndexDeclaration {
  readonly name: string;
  readonly key: Readonly<Record<string, 1 | -1>>;
  readonly unique?: boolean;
}

export interface CollectionDefinition<Doc extends Document> {
  readonly name: string;
  readonly indexes: readonly IndexDeclaration[];
  /** Phantom field carrying the document type; never set at run time. */
  readonly _doc?: Doc;
}

export function defineCollection<Doc extends Document>(definition: {
  name: string;
  indexes?: readonly IndexDeclaration[];
}): CollectionDefinition<Doc> {
  return { name: definition.name, indexes: definition.indexes ?? [] };
}

export type DocumentOf<C> = C extends CollectionDefinition<infer Doc> ? Doc : never;
