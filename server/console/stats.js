// 统计: the statistics screen (being built).
import { h, fill } from './dom.js';
import { t } from './i18n.js';

export async function statsPage(main) {
  fill(main, h('h1', {}, t('navStats')));
}
