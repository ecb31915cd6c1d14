// Named exports shared by every host's entry (each entry re-exports these for its host).
export { VoipCgiError, VoipError, VoipPluginError } from '../errors.js';
export { PLUGIN_VERSION } from '../plugin.js';
export { memoryStorage, webStorage, wxStorage } from '../storage.js';
