// 预警: the supervisor's warnings board (being built).
import { h, fill } from './dom.js';
import { t } from './i18n.js';

export async function warningsPage(main) {
  fill(main, h('h1', {}, t('navWarnings')));
}
