// The "who can call whom" picture, from the developer query getVoipContactList.
import { PARENTS, ROSTER, avatarUrl } from './people.js';
import { S } from './state.js';
import { $, h, svg } from './dom.js';
import { consented, nameOf } from './who.js';

export function buildRelations() {
  const root = $('relations');
  const graph = h('div', { class: 'graph' });
  root.append(
    h(
      'header',
      { class: 'panel-head' },
      h('h2', { id: 'relations-title' }, 'Who can call whom'),
      h('p', { class: 'muted', text: 'Live view of the registry: each student’s contacts (developer query getVoipContactList).' }),
    ),
    graph,
    h(
      'ul',
      { class: 'legend' },
      h('li', null, h('span', { class: 'sw ok' }), 'contact: the call goes through'),
      h('li', null, h('span', { class: 'sw blocked' }), 'contact, but calls not allowed yet (errCode 8)'),
      h('li', null, h('span', { class: 'star', text: '★' }), 'administrator (manages the list)'),
      h('li', null, 'no line: not a contact, calls refused (errCode 9)'),
    ),
  );
  S.ui.graph = graph;
}

export function renderRelations() {
  const W = 640;
  const rowH = 78;
  const top = 14;
  const H = top * 2 + ROSTER.length * rowH;
  const sx = 196; // edge start (right of student labels)
  const px = W - 200; // edge end (left of parent avatars)
  const sy = (i) => top + i * rowH + rowH / 2;
  const pGap = (H - 2 * top) / PARENTS.length;
  const py = (j) => top + j * pGap + pGap / 2;
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'rel',
    role: 'img',
    'aria-label': 'Students on the left, parents on the right, a line for each contact',
  });
  const edges = svg('g', { class: 'edges' });
  const marks = svg('g', { class: 'marks' });
  const nodes = svg('g', { class: 'nodes' });
  const desc = [];
  ROSTER.forEach((s, i) => {
    const list = S.contacts.get(s.userId) || [];
    const y = sy(i);
    const admin = list.find((c) => c.role === 1);
    nodes.append(
      svg('image', { href: avatarUrl(s.look), x: 8, y: y - 24, width: 48, height: 48 }),
      svg('text', { x: 64, y: y - 8, class: 'n-name' }, s.name),
      svg('text', { x: 64, y: y + 9, class: 'n-sub' }, s.cls),
      svg(
        'text',
        { x: 64, y: y + 25, class: 'n-count' + (list.length >= S.max ? ' full' : '') },
        list.length ? `${list.length} of ${S.max} contacts${list.length >= S.max ? ' · full' : ''}` : 'no contacts yet',
      ),
    );
    const names = [];
    for (const c of list) {
      const j = S.phones.findIndex((ph) => ph.openId === c.open_id);
      if (j < 0) continue;
      const y2 = py(j);
      const ok = consented(c.open_id);
      const d = `M${sx},${y} C${sx + 120},${y} ${px - 120},${y2} ${px},${y2}`;
      edges.append(
        svg('path', {
          d,
          class: 'edge ' + (ok ? 'ok' : 'blocked') + (c.role === 1 ? ' admin' : ''),
          'data-student': s.userId,
          'data-parent': PARENTS[j].id,
        }),
      );
      names.push(nameOf(c.open_id) + (c.role === 1 ? ' (admin)' : '') + (ok ? '' : ' (calls not allowed)'));
    }
    if (admin) {
      // the star sits on the administrator's line, near the student
      const j = S.phones.findIndex((ph) => ph.openId === admin.open_id);
      if (j >= 0) {
        const t = 0.12;
        const y2 = py(j);
        const bx = (1 - t) ** 3 * sx + 3 * (1 - t) ** 2 * t * (sx + 120) + 3 * (1 - t) * t * t * (px - 120) + t ** 3 * px;
        const by = (1 - t) ** 3 * y + 3 * (1 - t) ** 2 * t * y + 3 * (1 - t) * t * t * y2 + t ** 3 * y2;
        marks.append(
          svg('g', { class: 'admin-mark' }, svg('title', null, `${nameOf(admin.open_id)} is ${s.name}’s administrator`), svg('circle', { cx: bx, cy: by, r: 10 }), svg('text', { x: bx, y: by + 4.5 }, '★')),
        );
      }
    }
    desc.push(`${s.name}: ${names.length ? names.join(', ') : 'no contacts'}`);
  });
  S.phones.forEach((ph, j) => {
    const y = py(j);
    const ok = consented(ph.openId);
    nodes.append(
      svg('image', { href: avatarUrl(ph.p.look), x: px + 8, y: y - 24, width: 48, height: 48 }),
      svg('text', { x: px + 64, y: y - 6, class: 'n-name' }, ph.p.name),
      svg('text', { x: px + 64, y: y + 10, class: 'n-sub' }, ph.p.phone),
      svg('text', { x: px + 64, y: y + 26, class: 'n-consent ' + (ok ? 'yes' : 'no') }, ok ? '✓ calls allowed' : '✕ calls not allowed'),
    );
  });
  root.append(edges, marks, nodes);
  S.ui.graph.replaceChildren(root, h('p', { class: 'visually-hidden', 'data-testid': 'relations-text', text: desc.join('. ') }));
}
