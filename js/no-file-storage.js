// fileStorage where there is no file system (browsers, Mini Programs): a clear error.
import { VoipPluginError } from './errors.js';

export function fileStorage() {
  throw new VoipPluginError(
    1011,
    'NOT_SUPPORTED',
    'fileStorage:fail fileStorage needs Node; use webStorage(localStorage), wxStorage(wx) or memoryStorage()',
  );
}
