// The overview's links (and QR codes) to the device and phone pages: other windows, other
// machines.
import qrcode from 'qrcode-generator';
import { PARENTS, ROSTER } from './people.js';
import { S } from './state.js';
import { $, avatarImg, h } from './dom.js';

export function buildScreens() {
  const root = $('screens');
  const head = h(
    'header',
    { class: 'panel-head' },
    h('h2', { id: 'screens-title' }, 'Open on other screens'),
    h('p', { class: 'muted', text: 'Each page has its own connection to the contact service and its own identity: open them in other windows, or scan a QR code with a phone on the same network.' }),
  );
  if (S.mode !== 'service') {
    root.append(head, h('p', { class: 'muted small', text: 'Separate screens need the contact service: start the demo with `make demo` and open it without ?backend=local.' }));
    return;
  }
  // A phone on the network needs an address other than 127.0.0.1 (serve-demo --lan prints them).
  const lan = (S.cfg.addresses || []).find((a) => !a.startsWith('http://127.'));
  const base = lan || location.origin + '/';
  const card = (label, href, look, qrText) => {
    const q = qrcode(0, 'M');
    const url = new URL(href, base).href;
    q.addData(url);
    q.make();
    const qr = h('div', { class: 'qr small-qr', 'data-url': url });
    qr.innerHTML = q.createSvgTag({ cellSize: 2, margin: 2, scalable: true, title: { text: qrText, id: 'qr-screen-' + href.replace(/[^a-z0-9]+/gi, '-') } });
    return h('li', { class: 'screen-card' }, avatarImg(look, 32), h('a', { href, target: '_blank', rel: 'noopener' }, label), qr);
  };
  root.append(
    head,
    h(
      'ul',
      { class: 'screen-list' },
      card('Face-pay device', 'device.html', ROSTER[0].look, 'QR code: the device page'),
      PARENTS.map((p) => card(`${p.name} · ${p.phone}`, `phone.html?parent=${p.id}`, p.look, `QR code: ${p.name}’s phone page`)),
    ),
    lan ? null : h('p', { class: 'muted small', text: 'The QR codes point at 127.0.0.1 (this computer only). For a real phone, start the demo with `node scripts/serve-demo.mjs --lan`.' }),
  );
}
