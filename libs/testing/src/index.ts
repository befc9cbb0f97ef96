export { eventually, recordingLogger, testInfrastructure, uniqueId } from './helpers.js';
export { logSession } from './session-fixtures.js';
export type { LogRecord, TestInfrastructure } from './helpers.js';
export { SLIXMPP_CLIENT_SCRIPT, SLIXMPP_PYTHON, slixmppVersion, startSlixmpp } from './slixmpp.js';
export type {
  SlixmppArchivedMessage,
  SlixmppClient,
  SlixmppCommand,
  SlixmppEvent,
  SlixmppEventName,
  SlixmppEventOf,
  SlixmppMessageEvent,
  SlixmppOptions,
  SlixmppPresenceEvent,
  SlixmppRosterItem,
  SlixmppStanzaError,
  SlixmppTls,
} from './slixmpp.js';
