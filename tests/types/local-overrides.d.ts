// Local stand-ins for the type checks (no runtime meaning).
//
// WXWebAssembly.instantiate resolves `{ instance, module }` (PLATFORM.md §2), not the
//    `Instance` that miniprogram-api-typings 5.2.3 declares. Nothing checked here calls it (the
//    host app does not; the plugin shim is not in this project), so no override is needed yet;
//    were one needed, it would be an overload added to the namespace:
//      declare namespace WXWebAssembly {
//        function instantiate(path: string, importObject?: Imports):
//          Promise<{ instance: Instance; module: Module }>;
//      }
