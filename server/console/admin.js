// 管理: administration pages (being built).
import { h, fill } from './dom.js';
import { t } from './i18n.js';

export async function adminPage(main) {
  fill(main, h('h1', {}, t('navAdmin')));
}
