export { ConfigError, childEnvironment, isExplicit, loadConfig } from './load.js';
export type { Config, Environment, LoadedConfig, OptionKey } from './load.js';
export { OPTIONS } from './options.js';
export type { Option, OptionGroup } from './option.js';
export { renderConfigDocs } from './render-docs.js';
