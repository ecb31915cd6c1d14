// fileStorage where there is no file system (browsers, Mini Programs): a clear error.
import { notSupported } from './errors.js';

export function fileStorage() {
  throw notSupported('fileStorage', 'fileStorage needs Node; use webStorage(localStorage), wxStorage(wx) or memoryStorage()');
}
