// 调解协议书: the printable mediation agreement (being built).
import { h, fill } from './dom.js';

export async function agreementPage(main) {
  fill(main, h('h1', {}, '调解协议书'));
}
