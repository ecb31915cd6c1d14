// The demo's cast: a small class roster and three parents, with avatars drawn here as SVG (no
// images are downloaded). The API's userAvatar must be '' or an https:/http:/cloud:/wxfile: URL,
// so the demo passes '' and draws each avatar locally from the student's userId.

/** Students the face-pay device can "scan". userId is the face-pay user_id. */
export const ROSTER = [
  {
    userId: 'stu-3201',
    name: 'Li Ming',
    cls: 'Grade 3 · Class 2',
    look: { bg: '#dbeafe', skin: '#f6d2b8', hair: '#2b2118', style: 'short', shirt: '#2563eb' },
  },
  {
    userId: 'stu-3202',
    name: 'Wang Fang',
    cls: 'Grade 3 · Class 2',
    look: { bg: '#fce7f3', skin: '#f3c9a8', hair: '#3b2314', style: 'bunches', shirt: '#db2777' },
  },
  {
    userId: 'stu-4105',
    name: 'Zhang Wei',
    cls: 'Grade 4 · Class 1',
    look: { bg: '#dcfce7', skin: '#e8b892', hair: '#1f1a17', style: 'spiky', shirt: '#16a34a' },
  },
  {
    userId: 'stu-4106',
    name: 'Chen Jing',
    cls: 'Grade 4 · Class 1',
    look: { bg: '#fef3c7', skin: '#f6d2b8', hair: '#4a2c1a', style: 'bob', shirt: '#d97706' },
  },
];

/** The three parent phones. Their openIds are generated at first load (see app.js). */
export const PARENTS = [
  {
    id: 'p1',
    name: 'Mum',
    phone: 'Phone 1',
    color: '#2563eb',
    look: { bg: '#e0e7ff', skin: '#f3c9a8', hair: '#2b1d14', style: 'long', shirt: '#4f46e5', adult: true },
  },
  {
    id: 'p2',
    name: 'Dad',
    phone: 'Phone 2',
    color: '#0f766e',
    look: { bg: '#ccfbf1', skin: '#e8b892', hair: '#1b1613', style: 'short', shirt: '#0f766e', adult: true },
  },
  {
    id: 'p3',
    name: 'Grandma',
    phone: 'Phone 3',
    color: '#9333ea',
    look: { bg: '#f3e8ff', skin: '#f1cfb4', hair: '#b9b4ae', style: 'bun', shirt: '#7e22ce', adult: true, glasses: true },
  },
];

export const DEVICE = { id: 'device', name: 'Device', color: '#475569' };
/** A second face-pay device on the in-page backend (the busy story; on the service it is device.html?device=…). */
export const DEVICE2 = { id: 'device2', name: 'Device 2', color: '#64748b' };

export function studentById(userId) {
  return ROSTER.find((s) => s.userId === userId) || null;
}

function hair(look) {
  const c = look.hair;
  switch (look.style) {
    case 'long':
      return {
        back: `<path d="M15 30 C13 12 51 12 49 30 L51 50 C44 54 20 54 13 50 Z" fill="${c}"/>`,
        front: `<path d="M18 27 C18 13 46 13 46 27 C40 19 30 17 18 27 Z" fill="${c}"/>`,
      };
    case 'bunches':
      return {
        back: `<circle cx="14" cy="24" r="6" fill="${c}"/><circle cx="50" cy="24" r="6" fill="${c}"/>`,
        front: `<path d="M18 28 C17 12 47 12 46 28 C44 21 38 19 32 21 C26 19 20 21 18 28 Z" fill="${c}"/>`,
      };
    case 'spiky':
      return {
        back: '',
        front: `<path d="M18 27 L19 17 L23 20 L25 13 L29 18 L32 11 L35 18 L39 13 L41 20 L45 17 L46 27 C40 21 24 21 18 27 Z" fill="${c}"/>`,
      };
    case 'bob':
      return {
        back: `<path d="M16 30 C14 12 50 12 48 30 L48 40 L16 40 Z" fill="${c}"/>`,
        front: `<path d="M18 29 C18 13 46 13 46 29 L42 22 L22 22 Z" fill="${c}"/>`,
      };
    case 'bun':
      return {
        back: `<circle cx="32" cy="11" r="6" fill="${c}"/>`,
        front: `<path d="M18 28 C17 13 47 13 46 28 C41 20 23 20 18 28 Z" fill="${c}"/>`,
      };
    default: // short
      return {
        back: '',
        front: `<path d="M18 27 C17 12 47 12 46 27 C42 20 28 18 18 27 Z" fill="${c}"/>`,
      };
  }
}

/** An avatar as an SVG string (64×64), drawn from a look. */
export function avatarSvg(look) {
  const h = hair(look);
  const faceR = look.adult ? 13 : 14;
  const glasses = look.glasses
    ? '<g fill="none" stroke="#334155" stroke-width="1.3"><circle cx="26.5" cy="28" r="3.6"/><circle cx="37.5" cy="28" r="3.6"/><path d="M30.1 28 H33.9"/></g>'
    : '';
  return (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">' +
    `<circle cx="32" cy="32" r="32" fill="${look.bg}"/>` +
    h.back +
    `<path d="M12 64 C13 49 51 49 52 64 Z" fill="${look.shirt}"/>` +
    `<rect x="28" y="38" width="8" height="8" rx="3" fill="${look.skin}"/>` +
    `<circle cx="32" cy="28" r="${faceR}" fill="${look.skin}"/>` +
    h.front +
    '<circle cx="27" cy="28.5" r="1.7" fill="#1f2937"/><circle cx="37" cy="28.5" r="1.7" fill="#1f2937"/>' +
    '<circle cx="23.5" cy="33" r="2.2" fill="#f9a8a8" opacity=".55"/><circle cx="40.5" cy="33" r="2.2" fill="#f9a8a8" opacity=".55"/>' +
    '<path d="M28 34 Q32 37.5 36 34" fill="none" stroke="#7c2d12" stroke-width="1.5" stroke-linecap="round"/>' +
    glasses +
    '</svg>'
  );
}

const cache = new Map();
/** The avatar as a data: URL (for <img src> and SVG <image href>). */
export function avatarUrl(look) {
  let url = cache.get(look);
  if (!url) {
    url = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(avatarSvg(look));
    cache.set(look, url);
  }
  return url;
}

/** The look for a student id we do not know (a link for another school, say). */
export const UNKNOWN_LOOK = { bg: '#e5e7eb', skin: '#d6d3d1', hair: '#9ca3af', style: 'short', shirt: '#9ca3af' };

/** A fresh openId like a real one: 28 characters of [A-Za-z0-9_-], starting with 'o'. */
export function newOpenId() {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const bytes = new Uint8Array(27);
  crypto.getRandomValues(bytes);
  let s = 'o';
  for (const b of bytes) s += alphabet[b & 63];
  return s;
}
