// 一站式受理: the intake window's form (being built).
import { h, fill } from './dom.js';
import { t } from './i18n.js';

export async function intakePage(main) {
  fill(main, h('h1', {}, t('navIntake')));
}
