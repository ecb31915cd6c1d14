// Injected into the CommonJS Node build, where esbuild defines import.meta.url as this value.
/* global require, __filename */
export const __campus_voip_module_url = require('node:url').pathToFileURL(__filename).href;
