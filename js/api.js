// Assembles the host-dependent part of the public API: the factories and the default instance,
// which configures itself lazily on its first call (from requireMiniProgram().voipConfig in a
// Mini Program, from configure(voipConfig) elsewhere).
import { loadCore } from './core.js';
import { invalidArgument, readOptions } from './errors.js';
import { httpBackendFactory } from './http-backend.js';
import { localBackendFactory } from './local-backend.js';
import { VoipPlugin, pluginFactory, resolveSettings } from './plugin.js';

export function buildApi(host) {
  const createLocalBackend = localBackendFactory(host);
  const createHttpBackend = httpBackendFactory(host);
  const createVoipPlugin = pluginFactory(host, loadCore);
  let configured;
  let started = false;

  async function settleDefault() {
    started = true;
    try {
      return await configureDefault();
    } catch (e) {
      started = false; // a failed configuration may be fixed with configure()
      throw e;
    }
  }

  async function configureDefault() {
    let cfg = configured !== undefined ? configured : host.readConfig ? host.readConfig() : undefined;
    if (typeof cfg === 'function') cfg = cfg();
    cfg = await cfg;
    if (cfg === undefined || cfg === null) cfg = {};
    cfg = readOptions('configure', cfg, ['openId', 'backend', 'pluginAppId', 'compatVersion'], 'voipConfig');
    const raw = cfg.backend === undefined ? { type: 'local' } : cfg.backend;
    const { type } = readOptions('configure', raw, ['type'], 'voipConfig.backend', false);
    let backend;
    if (type === 'http') {
      const b = readOptions('configure', raw, ['type', 'url', 'getSession', 'deviceKey', 'timeoutMs'], 'voipConfig.backend');
      backend = await createHttpBackend({ url: b.url, getSession: b.getSession, deviceKey: b.deviceKey, timeoutMs: b.timeoutMs });
    } else {
      if (type !== 'local') throw invalidArgument('configure', 'voipConfig.backend.type must be "local" or "http"');
      // dev: true opts in to the development helpers (getDevBackend(), issueVoipToken, …).
      const b = readOptions('configure', raw, ['type', 'maxContacts', 'ticketTtlMs', 'dev'], 'voipConfig.backend');
      backend = await createLocalBackend({
        maxContacts: b.maxContacts,
        ticketTtlMs: b.ticketTtlMs,
        pluginAppId: cfg.pluginAppId,
        dev: b.dev,
      });
    }
    return resolveSettings('configure', host, loadCore, {
      backend,
      openId: cfg.openId,
      compatVersion: cfg.compatVersion,
    });
  }

  /** Sets the default instance's voipConfig (before its first call). */
  function configure(voipConfig) {
    if (started) {
      throw invalidArgument('configure', 'the default instance is already in use; call configure() before its first call');
    }
    configured = voipConfig;
  }

  // The rest of the public API (storage adapters, error classes, PLUGIN_VERSION) does not
  // depend on the host: entry/common.js exports it.
  return {
    defaultInstance: new VoipPlugin(settleDefault, host, undefined),
    configure,
    createVoipPlugin,
    createLocalBackend,
    createHttpBackend,
  };
}
