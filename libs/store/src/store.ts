import { MongoClient, type Collection, type Db, type Document } from 'mongodb';

import type { CollectionDefinition } from './collection.js';
import { COLLECTIONS } from './collections.js';
import { toStoreError } from './errors.js';
import { withRetry, type RetryLogger, type RetryOptions } from './retry.js';

export interface StoreOptions {
  readonly url: string;
  readonly dbName: string;
  readonly logger: RetryLogger;
  /** Shown in the server's connection list, e.g. `session-state/node-1`. */
  readonly appName?: string;
  /** Per-attempt server selection timeout (default 5 s); `withRetry` spans attempts. */
  readonly serverSelectionTimeoutMS?: number;
  readonly retry?: RetryOptions;
}

/** The MongoDB connection of a process, with the declared collections and retrying operations. */
export class Store {
  private constructor(
    readonly client: MongoClient,
    readonly db: Db,
    private readonly options: StoreOptions,
  ) {}

  /** Connects, retrying while the server is unreachable (it may still be starting). */
  static async open(options: StoreOptions): Promise<Store> {
    const client = new MongoClient(options.url, {
      appName: options.appName ?? 'holdfast',
      serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5000,
    });
    await withRetry('connect', () => client.connect(), options.logger, options.retry);
    return new Store(client, client.db(options.dbName), options);
  }

  collection<Doc extends Document>(definition: CollectionDefinition<Doc>): Collection<Doc> {
    return this.db.collection<Doc>(definition.name);
  }

  /**
   * Creates the declared indexes (idempotent: existing ones with the same spec are left alone). One index
   * per command: FerretDB 1.24 drops the connection when a multi-index createIndexes meets existing ones.
   */
  async ensureIndexes(definitions: readonly CollectionDefinition<Document>[] = COLLECTIONS): Promise<void> {
    for (const definition of definitions) {
      for (const index of definition.indexes) {
        await this.run(definition, `createIndex ${index.name}`, (collection) =>
          collection.createIndexes([{ name: index.name, key: index.key, unique: index.unique ?? false }]),
        );
      }
    }
  }

  /**
   * Runs one operation on a collection: retried on transient errors (so it must be idempotent), with
   * driver errors mapped to this library's (e.g. DuplicateKeyError).
   */
  async run<Doc extends Document, T>(
    definition: CollectionDefinition<Doc>,
    what: string,
    operation: (collection: Collection<Doc>) => Promise<T>,
  ): Promise<T> {
    const collection = this.collection(definition);
    try {
      return await withRetry(
        `${definition.name}.${what}`,
        () => operation(collection),
        this.options.logger,
        this.options.retry,
      );
    } catch (error) {
      throw toStoreError(error, definition.name);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
