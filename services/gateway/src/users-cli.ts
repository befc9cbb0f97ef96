import { loadConfig } from '@holdfast/config';
import { Store } from '@holdfast/store';

import { Accounts } from './auth/accounts.js';

/**
 * Account administration until the admin API exists:
 *   node services/gateway/dist/users-cli.js add <localpart> <password>
 *   node services/gateway/dist/users-cli.js passwd <localpart> <password>
 *   node services/gateway/dist/users-cli.js remove <localpart>
 *   node services/gateway/dist/users-cli.js list
 * (`./holdfast users …` runs it.) Accounts are in XMPP_DOMAIN, stored in MONGO_URL / MONGO_DB.
 */
const USAGE =
  'usage: users add <localpart> <password> | passwd <localpart> <password> | remove <localpart> | list';

async function main(args: readonly string[]): Promise<number> {
  const { config } = loadConfig();
  const quiet = { warn: () => undefined };
  const store = await Store.open({
    url: config.mongo_url,
    dbName: config.mongo_db,
    logger: quiet,
    retry: { budgetMs: 5000 },
  });
  try {
    const accounts = new Accounts(store, config.xmpp_domain);
    const [command, localpart, password] = args;
    const say = (line: string): void => {
      process.stdout.write(`${line}\n`);
    };
    switch (command) {
      case 'add':
        if (localpart === undefined || password === undefined) break;
        say(
          (await accounts.add(localpart, password, new Date()))
            ? `added ${accounts.bareJid(localpart)}`
            : 'exists already',
        );
        return 0;
      case 'passwd':
        if (localpart === undefined || password === undefined) break;
        say(
          (await accounts.setPassword(localpart, password, new Date())) ? 'password changed' : 'no such user',
        );
        return 0;
      case 'remove':
        if (localpart === undefined) break;
        say((await accounts.remove(localpart)) ? `removed ${accounts.bareJid(localpart)}` : 'no such user');
        return 0;
      case 'list':
        for (const jid of await accounts.list()) say(jid);
        return 0;
    }
    process.stderr.write(`${USAGE}\n`);
    return 2;
  } catch (error) {
    process.stderr.write(`users: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
