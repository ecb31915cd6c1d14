// requirePlugin('campus-voip') in the sample host app: the plugin's main module
// (dist/miniprogram-plugin/plugin/index.js), typed by the npm package's declarations
// (dist/npm/index.d.ts, resolved as 'campus-voip' through tsconfig paths).
//
// The plugin main exports the npm package's names (its fileStorage throws NOT_SUPPORTED).
// miniprogram-api-typings types requirePlugin as `RequirePlugin` returning any; this adds an
// overload to that interface (a single-string-literal parameter sorts first when merged).

type CampusVoipPluginMain = typeof import('campus-voip');

interface RequirePlugin {
  (module: 'campus-voip', callback?: (pluginExport: CampusVoipPluginMain) => void): CampusVoipPluginMain;
  async(module: 'campus-voip'): Promise<CampusVoipPluginMain>;
}
