// mintSession outside Node (browsers, Mini Programs): a clear error. A session is minted by the
// school's server with the session secret, which must never ship in a client.
import { notSupported } from './errors.js';

export function mintSession() {
  return Promise.reject(
    notSupported('mintSession', "mintSession runs on the school's Node server (the session secret never ships in a client); a client passes getSession"),
  );
}
