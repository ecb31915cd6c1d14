// campus-voip/slim: the API of 'campus-voip', with the wasm supplied by the host through
// initWasm(source). The build ships this file as slim.d.ts (require) and slim.d.mts (import,
// re-exporting from './index.mjs').
export * from './index.js';
export { default } from './index.js';

/** A URL object (the WHATWG `URL`); typed by shape so neither the DOM nor Node's types are needed. */
export interface WasmUrlLike {
  readonly href: string;
  readonly protocol: string;
}

/** A fetch `Response` (browser, Node, Deno, workers), by shape. */
export interface WasmResponseLike {
  readonly ok: boolean;
  readonly status: number;
  readonly url: string;
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * A compiled `WebAssembly.Module` (an opaque object: typed as `object` so these declarations do
 * not need the DOM library).
 */
export type WasmModuleLike = object;

/**
 * Where the wasm comes from: the URL of campus_voip_bg.wasm (a string, relative to the page, or
 * a URL; in Node also a file: URL or a path), a `Response` or a promise of one (compiled while
 * it streams when served as application/wasm), its bytes, or a compiled `WebAssembly.Module`.
 */
export type WasmSource =
  | string
  | WasmUrlLike
  | WasmResponseLike
  | PromiseLike<WasmResponseLike | ArrayBuffer | ArrayBufferView | WasmModuleLike>
  | ArrayBuffer
  | ArrayBufferView
  | WasmModuleLike;

/**
 * Loads the wasm core from `source`; resolves once it is ready. Calls made before initWasm() was
 * called reject with a `VoipPluginError` (errCode 1011, `NOT_SUPPORTED`, errMsg
 * `'loadWasm:fail …'`) saying to call it; calls made while it loads wait for it. A source that
 * cannot be loaded (HTTP error, an HTML page, not a wasm file) rejects with the same kind of
 * error naming the cause and the fix; initWasm() may then be called again. Once loaded, later
 * calls resolve at once and ignore their source.
 */
export function initWasm(source: WasmSource): Promise<void>;
