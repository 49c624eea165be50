// 一站式受理 (/console/intake): one form for a walk-in or hotline case at the center's window.
// The location comes from the directory's tree (a village or a township → `area_code`); the
// suggested dispatch (POST /v1/cases/suggestion, the rules the queue uses) shows before
// saving and follows category, risk and location; saving is POST /v1/cases, then, when the
// server still offers ACCEPT to the user (a case not already auto-dispatched), 受理 at once,
// so the person at the window leaves with the case number. The codes offered are the
// OpenAPI schema's (`IntakeBody`); what may follow is the case's `allowed_actions`.
import { api, openapi } from './api.js';
import { h, fill, link } from './dom.js';
import { t, label, addStrings, addCodes } from './i18n.js';
import { directory, orgPicker } from './orgpicker.js';

addStrings({
  zh: {
    in_title: '受理登记（一站式受理）', in_case: '案件信息', in_where: '发生地点', in_parties: '当事人',
    in_location: '所属村(社区)或乡镇', in_areaCode: '区域代码', in_occurred: '发生时间',
    in_amountYuan: '涉及金额（元）', in_riskFlags: '风险标识', in_difficulty: '难易程度',
    in_addParty: '添加当事人', in_removeParty: '删除', in_party: '当事人', in_idType: '证件类型',
    in_save: '登记并受理', in_clear: '清空', in_saving: '正在保存…',
    in_suggestTitle: '建议分派', in_suggestNeed: '选择类别和地点后显示建议分派',
    in_suggestNone: '没有匹配的分派规则：保存后由受理员人工分派',
    in_suggestAuto: '保存后将按规则自动分派至', in_suggestManual: '规则建议分派至',
    in_saved: '已登记', in_open: '查看案件', in_confirm: '按建议分派', in_dispatched: '已分派至',
    in_notAccepted: '案件已保存，但未能受理', in_next: '可继续登记下一位来访群众。',
    in_needTitle: '请填写标题', in_needLocation: '请选择发生地点', in_needPartyName: '请填写当事人姓名',
    in_badAmount: '金额须为不小于0的数字，最多两位小数', in_rule: '规则',
  },
  en: {
    in_title: 'Intake (one-stop window)', in_case: 'Case', in_where: 'Where', in_parties: 'Parties',
    in_location: 'Village or township', in_areaCode: 'Area code', in_occurred: 'Occurred at',
    in_amountYuan: 'Amount (yuan)', in_riskFlags: 'Risk flags', in_difficulty: 'Difficulty',
    in_addParty: 'Add a party', in_removeParty: 'Remove', in_party: 'Party', in_idType: 'ID type',
    in_save: 'Register and accept', in_clear: 'Clear', in_saving: 'Saving…',
    in_suggestTitle: 'Suggested dispatch', in_suggestNeed: 'Choose a category and a place to see the suggested dispatch',
    in_suggestNone: 'No dispatch rule matches: a dispatcher dispatches it after saving',
    in_suggestAuto: 'On saving, dispatched automatically to', in_suggestManual: 'The rules suggest dispatching to',
    in_saved: 'Registered', in_open: 'Open the case', in_confirm: 'Dispatch as suggested', in_dispatched: 'Dispatched to',
    in_notAccepted: 'The case is saved but could not be accepted', in_next: 'Ready for the next person.',
    in_needTitle: 'Enter a title', in_needLocation: 'Choose where it happened', in_needPartyName: "Enter the party's name",
    in_badAmount: 'The amount is a number ≥ 0 with at most two decimals', in_rule: 'rule',
  },
});
addCodes({
  riskFlag: {
    CRIMINAL_TENDENCY: ['民转刑苗头', 'Criminal tendency'], GROUP_PETITION: ['群体性上访苗头', 'Group petition'],
    STABILITY: ['影响社会稳定', 'Threat to stability'], THREATS: ['扬言报复/过激言行', 'Threats'],
    REPEAT: ['反复纠纷', 'Repeat dispute'], VULNERABLE_PARTY: ['涉及弱势群体', 'Vulnerable party'],
  },
  difficulty: { GENERAL: ['一般', 'General'], SIMPLE: ['简易', 'Simple'], COMPLEX: ['疑难复杂', 'Complex'] },
  idType: {
    ID_CARD: ['居民身份证', 'Resident ID card'], PASSPORT: ['护照', 'Passport'],
    HK_MACAU_PERMIT: ['港澳居民来往内地通行证', 'Home-return permit (HK/Macau)'],
    TAIWAN_PERMIT: ['台湾居民来往大陆通行证', 'Mainland travel permit (Taiwan)'],
    BUSINESS_LICENCE: ['统一社会信用代码', 'Unified social credit code'], NONE: ['无', 'None'],
  },
});

// The enum of a property of a schema (`$ref`s, `oneOf [null, X]`, arrays' items resolved).
function enumOf(spec, schema, name) {
  const res = (s) => {
    for (let i = 0; s && s.$ref && i < 10; i++) s = spec.components.schemas[s.$ref.split('/').pop()];
    return s || {};
  };
  let s = res((schema.properties || {})[name]);
  if (s.oneOf) s = res(s.oneOf.find((x) => x.type !== 'null'));
  if (s.type === 'array') s = res(s.items);
  return (s.enum || []).filter((v) => v !== null);
}

function select(id, table, values, chosen) {
  return h('select', { id, name: id }, values.map((v) => h('option', { value: v, selected: v === chosen }, label(table, v))));
}

function field(id, caption, input, cls = '') {
  return h('div', { class: `in-field ${cls}` }, h('label', { for: id }, caption), input);
}

/** 元 as typed → fen, or null when not a sum of money. */
export function toFen(text) {
  const v = String(text).trim().replace(/[,，]/g, '');
  if (v === '') return 0;
  if (!/^\d+(\.\d{1,2})?$/.test(v)) return null;
  const [whole, frac = ''] = v.split('.');
  return Number(whole) * 100 + Number((frac + '00').slice(0, 2));
}

export async function intakePage(main) {
  fill(main, h('h1', {}, t('in_title')), h('p', {}, t('loading')));
  let spec;
  let items;
  try {
    [spec, items] = await Promise.all([openapi(), directory()]);
  } catch (err) {
    return fill(main, h('h1', {}, t('in_title')), h('p', { class: 'error', role: 'alert', id: 'intake-error' }, err.message));
  }
  const schema = spec.components.schemas.IntakeBody || {};
  const partySchema = spec.components.schemas.PartyBody || {};
  const values = {
    source: enumOf(spec, schema, 'source'), category: enumOf(spec, schema, 'category'),
    risk: enumOf(spec, schema, 'risk_level'), flags: enumOf(spec, schema, 'risk_flags'),
    difficulty: enumOf(spec, schema, 'difficulty'), role: enumOf(spec, partySchema, 'role'),
    idType: enumOf(spec, partySchema, 'id_type'),
  };

  const result = h('section', { class: 'in-result', id: 'intake-result', 'aria-live': 'polite', hidden: true });
  const form = h('form', { id: 'intake-form', class: 'intake', novalidate: true });
  fill(main, h('h1', {}, t('in_title')), result, form);
  draw();

  function draw(focus = true) {
    const source = select('in-source', 'source', values.source, 'WALK_IN');
    const title = h('input', { id: 'in-title', name: 'title', required: true, maxlength: 200, autocomplete: 'off' });
    const category = select('in-category', 'category', values.category, '');
    category.prepend(h('option', { value: '', selected: true }, '—'));
    const summary = h('textarea', { id: 'in-summary', name: 'summary', rows: 3 });
    const risk = select('in-risk', 'risk', values.risk, 'GREEN');
    const difficulty = select('in-difficulty', 'difficulty', values.difficulty, 'GENERAL');
    const flags = h('div', { class: 'in-flags', id: 'in-flags', role: 'group', 'aria-label': t('in_riskFlags') },
      values.flags.map((f) => h('label', { class: 'check' },
        h('input', { type: 'checkbox', name: 'risk_flags', value: f, id: `in-flag-${f}` }), label('riskFlag', f))));
    const occurred = h('input', { id: 'in-occurred', type: 'datetime-local' });
    const address = h('input', { id: 'in-address', name: 'address', autocomplete: 'off' });
    const amount = h('input', { id: 'in-amount', name: 'amount', inputmode: 'decimal', autocomplete: 'off', placeholder: '0.00' });
    const people = h('input', { id: 'in-people', name: 'people_involved', type: 'number', min: 0, step: 1 });
    const areaShown = h('span', { class: 'mono', id: 'in-area-code' }, '—');
    const suggestion = h('div', { class: 'suggestion in-suggestion', id: 'in-suggestion', 'aria-live': 'polite' }, t('in_suggestNeed'));
    const error = h('p', { class: 'error', role: 'alert', id: 'intake-error' });

    const place = orgPicker({
      id: 'in-location', items, pickable: (o) => o.in_scope, labelText: t('in_location'),
      onChange: (ids) => { fill(areaShown, ids.length ? place.entry(ids[0]).area_code : '—'); suggest(); },
    });
    // A dispatcher whose scope is one village or one township: it is the place already.
    const places = items.filter((o) => o.in_scope);
    if (places.length === 1) { place.set([places[0].id]); fill(areaShown, places[0].area_code); }

    const parties = h('div', { id: 'in-parties', class: 'in-parties' });
    let partyNo = 0;
    const addParty = (focusIt) => {
      const n = ++partyNo;
      const p = `in-p${n}`;
      const row = h('fieldset', { class: 'in-party', 'data-party': n },
        h('legend', {}, `${t('in_party')} ${parties.children.length + 1}`),
        field(`${p}-role`, t('role'), select(`${p}-role`, 'partyRole', values.role, parties.children.length ? 'RESPONDENT' : 'APPLICANT')),
        field(`${p}-name`, `${t('name')} *`, h('input', { id: `${p}-name`, autocomplete: 'off' })),
        field(`${p}-idtype`, t('in_idType'), select(`${p}-idtype`, 'idType', values.idType, 'ID_CARD')),
        field(`${p}-id`, t('idNumber'), h('input', { id: `${p}-id`, autocomplete: 'off', class: 'mono' })),
        field(`${p}-phone`, t('phone'), h('input', { id: `${p}-phone`, type: 'tel', autocomplete: 'off' })),
        field(`${p}-address`, t('address'), h('input', { id: `${p}-address`, autocomplete: 'off' }), 'wide'),
        h('button', { type: 'button', class: 'in-remove', 'data-remove-party': n, onclick: () => {
          row.remove();
          [...parties.children].forEach((r, i) => { r.querySelector('legend').textContent = `${t('in_party')} ${i + 1}`; });
          addButton.focus();
        } }, t('in_removeParty')));
      parties.append(row);
      if (focusIt) row.querySelector('select').focus();
    };
    const addButton = h('button', { type: 'button', id: 'in-add-party', onclick: () => addParty(true) }, `+ ${t('in_addParty')}`);
    addParty(false);

    // The suggestion follows the routing fields; only the latest answer is shown.
    let asked = 0;
    async function suggest() {
      const area = place.value()[0];
      if (!area || !category.value) return fill(suggestion, t('in_suggestNeed'));
      const mine = ++asked;
      try {
        const s = await api('POST', '/v1/cases/suggestion', {
          area_code: place.entry(area).area_code, category: category.value, risk_level: risk.value,
        });
        if (mine !== asked) return;
        fill(suggestion, h('strong', {}, `${t('in_suggestTitle')}: `),
          `${s.automatic ? t('in_suggestAuto') : t('in_suggestManual')} `,
          h('span', { id: 'in-suggestion-target', 'data-org': s.target_org_id }, s.target_org_name),
          ` (${label('tier', s.tier)}; ${t('in_rule')} ${s.rule_id})`);
      } catch (err) {
        if (mine !== asked) return;
        if (err.code === 'no_suggestion') fill(suggestion, t('in_suggestNone'));
        else fill(suggestion, h('span', { class: 'error', role: 'alert' }, err.message));
      }
    }
    category.addEventListener('change', suggest);
    risk.addEventListener('change', suggest);

    // Errors name the field: ours before sending, the server's (`field \`x\``) after.
    const INPUT_OF = {
      title: title, category, summary, area_code: place.el.querySelector('input'), address,
      amount_involved: amount, people_involved: people, risk_level: risk, source, occurred_at: occurred,
    };
    const fail = (msg, input) => {
      fill(error, msg);
      for (const x of form.querySelectorAll('[aria-invalid]')) x.removeAttribute('aria-invalid');
      if (input) { input.setAttribute('aria-invalid', 'true'); input.setAttribute('aria-describedby', 'intake-error'); input.focus(); }
    };

    // Editing the field named by an error clears it.
    form.oninput = (e) => {
      if (e.target.getAttribute && e.target.getAttribute('aria-invalid')) {
        e.target.removeAttribute('aria-invalid');
        if (!form.querySelector('[aria-invalid]')) fill(error);
      }
    };

    const read = () => {
      if (!title.value.trim()) throw [t('in_needTitle'), title];
      const area = place.value()[0];
      if (!area) throw [t('in_needLocation'), INPUT_OF.area_code];
      const fen = toFen(amount.value);
      if (fen === null) throw [t('in_badAmount'), amount];
      const body = {
        source: source.value, title: title.value.trim(), summary: summary.value.trim(),
        area_code: place.entry(area).area_code, address: address.value.trim(),
        amount_involved: fen, people_involved: people.value === '' ? 0 : Number(people.value),
        risk_level: risk.value, difficulty: difficulty.value,
        risk_flags: [...flags.querySelectorAll('input:checked')].map((c) => c.value),
        parties: [],
      };
      if (category.value) body.category = category.value;
      if (occurred.value) body.occurred_at = `${occurred.value}:00+08:00`;
      for (const row of parties.children) {
        const v = (suffix) => row.querySelector(`[id$="-${suffix}"]`).value.trim();
        const any = ['name', 'id', 'phone', 'address'].some((k) => v(k));
        if (!any) continue;
        if (!v('name')) throw [t('in_needPartyName'), row.querySelector('[id$="-name"]')];
        body.parties.push({ role: v('role'), name: v('name'), id_type: v('idtype'), id_number: v('id'), phone: v('phone'), address: v('address') });
      }
      return body;
    };

    const save = h('button', { type: 'submit', class: 'primary', id: 'in-save' }, t('in_save'));
    form.onsubmit = async (e) => {
      e.preventDefault();
      fail('');
      let body;
      try { body = read(); } catch ([msg, input]) { return fail(msg, input); }
      save.disabled = true;
      fill(save, t('in_saving'));
      try {
        let d = await api('POST', '/v1/cases', body);
        let notAccepted = null;
        // 一站式受理: registered at once when the server still offers ACCEPT (an automatic
        // rule may have accepted and dispatched it already).
        if (!d.state.case_no && (d.allowed_actions || []).some((a) => a.kind === 'ACCEPT')) {
          try {
            await api('POST', `/v1/cases/${encodeURIComponent(d.id)}/actions`, { kind: 'ACCEPT', payload: {} });
            d = await api('GET', `/v1/cases/${encodeURIComponent(d.id)}`);
          } catch (err) { notAccepted = err.message; }
        }
        showResult(d, notAccepted);
        draw(false);
        form.querySelector('#in-title').focus();
      } catch (err) {
        const m = /field `([a-z_]+)/.exec(err.message || '');
        const key = m && m[1];
        const input = key && (INPUT_OF[key] || (key.startsWith('parties') ? parties.querySelector('input') : null));
        fail(err.message, input);
        save.disabled = false;
        fill(save, t('in_save'));
      }
    };

    fill(form,
      h('div', { class: 'in-columns' },
        h('section', { class: 'in-col' }, h('h2', {}, t('in_case')),
          field('in-source', t('source'), source),
          field('in-title', `${t('title')} *`, title),
          field('in-category', t('category'), category),
          field('in-summary', t('summary'), summary, 'wide'),
          field('in-risk', t('risk'), risk),
          field('in-difficulty', t('in_difficulty'), difficulty),
          h('div', { class: 'in-field wide' }, h('span', { class: 'caption' }, t('in_riskFlags')), flags),
          field('in-amount', t('in_amountYuan'), amount),
          field('in-people', t('people'), people),
          field('in-occurred', t('in_occurred'), occurred)),
        h('section', { class: 'in-col' }, h('h2', {}, t('in_where')),
          place.el,
          h('p', { class: 'in-area' }, `${t('in_areaCode')}: `, areaShown),
          field('in-address', t('address'), address, 'wide'),
          suggestion)),
      h('section', {}, h('h2', {}, t('in_parties')), parties, addButton),
      h('div', { class: 'buttons in-buttons' }, save,
        h('button', { type: 'button', id: 'in-clear', onclick: () => { fail(''); draw(); } }, t('in_clear'))),
      error);
    if (places.length === 1) suggest();
    if (focus) source.focus();
  }

  function showResult(d, notAccepted) {
    const s = d.state;
    const no = s.case_no;
    const href = `/console/cases/${encodeURIComponent(d.id)}`;
    const confirm = d.suggestion && !(s.assigned_orgs || []).length
      ? h('button', { type: 'button', id: 'in-confirm', onclick: async (e) => {
        e.target.disabled = true;
        try {
          const r = await api('POST', `/v1/cases/${encodeURIComponent(d.id)}/suggestion`, { rule_id: d.suggestion.rule_id });
          showResult(r.case, null);
        } catch (err) {
          e.target.disabled = false;
          fill(status, err.message);
        }
      } }, `${t('in_confirm')}: ${d.suggestion.target_org_name}`)
      : null;
    const status = h('p', { class: 'error', role: 'alert', id: 'in-result-error' }, notAccepted ? `${t('in_notAccepted')}: ${notAccepted}` : '');
    const handled = (s.assigned_orgs || []).map((o) => o.name || o.id).join('、');
    result.hidden = false;
    fill(result,
      h('h2', {}, t('in_saved')),
      h('p', { class: 'in-saved' },
        h('span', { class: 'caseno', id: 'in-case-no' }, no || '—'), ' ',
        h('span', { class: 'tag' }, label('status', s.status)), ' ',
        link(href, t('in_open'))),
      handled ? h('p', { id: 'in-handled' }, `${t('in_dispatched')} ${handled}`) : null,
      confirm ? h('div', { class: 'buttons' }, confirm) : null,
      status,
      h('p', { class: 'note' }, t('in_next')));
    result.querySelector('a').id = 'in-open';
  }
}
