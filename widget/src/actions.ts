// The action UI (issue 11, decision 028), loaded on the first action offer as its own chunk
// (actions-chunk.ts): a small card inside the answer with the action's title and
// description, and its form — the action's fields, the visitor's contact details with an
// explicit consent box when the action needs them, Confirm and Cancel. An offer the
// embedded default matched opens its form from a button; one the model proposed shows the
// form at once. Nothing is sent before the visitor confirms, and no contact detail without
// consent. For appointments the day's free times are fetched whenever the day changes.
// Text reaches the DOM through textContent only, as everywhere in the widget.
import {
  type Confirmation,
  confirmAction,
  fetchSlots,
  type VisitorAuth,
} from "./actions-client.ts";
import type { ActionField, ActionMount, ActionUiContext } from "./actions-loader.ts";
import type { Language } from "./i18n.ts";

export interface ActionStrings {
  openForm: string;
  optional: string;
  confirm: string;
  sending: string;
  cancel: string;
  name: string;
  email: string;
  phone: string;
  /** `{business}` is replaced by who will make contact. */
  consent: string;
  consentNeeded: string;
  required: string;
  badEmail: string;
  reachable: string;
  choose: string;
  loadingSlots: string;
  noSlots: string;
  slotTaken: string;
  expired: string;
  failed: string;
  network: string;
}

const en: ActionStrings = {
  openForm: "Fill in the form",
  optional: "(optional)",
  confirm: "Confirm",
  sending: "Sending…",
  cancel: "Cancel",
  name: "Your name",
  email: "E-mail",
  phone: "Phone",
  consent: "I agree that {business} contacts me about this request",
  consentNeeded: "Tick this box to let {business} contact you, or cancel.",
  required: "Fill this in.",
  badEmail: "Enter an e-mail address like name@example.com.",
  reachable: "Give an e-mail address or a phone number.",
  choose: "Choose…",
  loadingSlots: "Looking for free times…",
  noSlots: "No free times on this day. Choose another day.",
  slotTaken: "That time was just taken. Choose another one.",
  expired: "This offer has expired. Ask again to start over.",
  failed: "That did not work. Please try again later.",
  network: "Could not reach the server. Check your connection and try again.",
};

const fr: ActionStrings = {
  openForm: "Remplir le formulaire",
  optional: "(facultatif)",
  confirm: "Confirmer",
  sending: "Envoi…",
  cancel: "Annuler",
  name: "Votre nom",
  email: "E-mail",
  phone: "Téléphone",
  consent: "J'accepte que {business} me contacte au sujet de cette demande",
  consentNeeded: "Cochez cette case pour que {business} puisse vous contacter, ou annulez.",
  required: "Remplissez ce champ.",
  badEmail: "Saisissez une adresse e-mail comme nom@exemple.fr.",
  reachable: "Indiquez une adresse e-mail ou un numéro de téléphone.",
  choose: "Choisir…",
  loadingSlots: "Recherche des créneaux libres…",
  noSlots: "Aucun créneau libre ce jour-là. Choisissez un autre jour.",
  slotTaken: "Ce créneau vient d'être pris. Choisissez-en un autre.",
  expired: "Cette offre a expiré. Posez à nouveau votre question.",
  failed: "Cela n'a pas fonctionné. Réessayez plus tard.",
  network: "Serveur injoignable. Vérifiez votre connexion, puis réessayez.",
};

const de: ActionStrings = {
  openForm: "Formular ausfüllen",
  optional: "(optional)",
  confirm: "Bestätigen",
  sending: "Wird gesendet…",
  cancel: "Abbrechen",
  name: "Ihr Name",
  email: "E-Mail",
  phone: "Telefon",
  consent: "Ich bin einverstanden, dass {business} mich zu dieser Anfrage kontaktiert",
  consentNeeded:
    "Kreuzen Sie dies an, damit {business} Sie kontaktieren darf, oder brechen Sie ab.",
  required: "Bitte ausfüllen.",
  badEmail: "Geben Sie eine E-Mail-Adresse wie name@beispiel.de ein.",
  reachable: "Geben Sie eine E-Mail-Adresse oder eine Telefonnummer an.",
  choose: "Auswählen…",
  loadingSlots: "Suche freie Zeiten…",
  noSlots: "An diesem Tag ist nichts frei. Wählen Sie einen anderen Tag.",
  slotTaken: "Diese Zeit wurde gerade vergeben. Wählen Sie eine andere.",
  expired: "Dieses Angebot ist abgelaufen. Fragen Sie bitte erneut.",
  failed: "Das hat nicht geklappt. Bitte versuchen Sie es später erneut.",
  network: "Server nicht erreichbar. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.",
};

const es: ActionStrings = {
  openForm: "Rellenar el formulario",
  optional: "(opcional)",
  confirm: "Confirmar",
  sending: "Enviando…",
  cancel: "Cancelar",
  name: "Tu nombre",
  email: "Correo electrónico",
  phone: "Teléfono",
  consent: "Acepto que {business} me contacte sobre esta solicitud",
  consentNeeded: "Marca esta casilla para que {business} pueda contactarte, o cancela.",
  required: "Rellena este campo.",
  badEmail: "Escribe un correo como nombre@ejemplo.es.",
  reachable: "Indica un correo electrónico o un número de teléfono.",
  choose: "Elegir…",
  loadingSlots: "Buscando horas libres…",
  noSlots: "No hay horas libres ese día. Elige otro día.",
  slotTaken: "Esa hora acaba de ocuparse. Elige otra.",
  expired: "Esta oferta ha caducado. Vuelve a preguntar.",
  failed: "No ha funcionado. Inténtalo de nuevo más tarde.",
  network: "No se pudo contactar con el servidor. Comprueba tu conexión y vuelve a intentarlo.",
};

export const ACTION_STRINGS: Record<Language, ActionStrings> = { en, fr, de, es };

const CSS = `
.act{margin-top:10px;padding:10px;border:1px solid var(--muted);border-radius:8px;background:var(--bg2)}
.act-title{font-weight:600}
.act-desc{color:var(--muted);margin-top:2px}
.act-form{display:flex;flex-direction:column;gap:8px;margin-top:8px}
.act-form label{display:block;font-weight:600;font-size:13px;margin-bottom:2px}
.act-opt{font-weight:400;color:var(--muted)}
.act input:not([type=checkbox]),.act select,.act textarea{display:block;width:100%;min-height:36px;padding:6px 8px;
font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--muted);border-radius:6px}
.act textarea{resize:vertical;min-height:60px}
.act [aria-invalid=true]{border-color:var(--err);border-width:2px}
.act .act-check{display:flex;gap:8px;align-items:flex-start;font-weight:400;font-size:14px}
.act-check input{width:18px;height:18px;margin-top:2px;flex:none;accent-color:var(--link)}
.act-ferr,.act-error{color:var(--err);font-size:13px;margin-top:2px}
.act-hint{color:var(--muted);font-size:13px;margin-top:2px}
.act-buttons{display:flex;gap:8px;flex-wrap:wrap}
.act button{min-height:36px;padding:0 14px;border-radius:6px;font-weight:600}
.act-primary{background:var(--accent);color:var(--accent-text)}
.act-primary:disabled{opacity:.6;cursor:default}
.act-secondary{border:1px solid var(--muted)!important;color:var(--fg)}
.act .act-open{margin-top:8px}
.act-result{margin-top:8px;padding-left:8px;border-left:3px solid var(--link)}
.act-result:empty{display:none}
.act-result:focus{outline:none}
.act-result:focus-visible{outline:2px solid var(--link)}
`;

const styled = new WeakSet<Node>();

/** Adds the action UI's styles to the shadow root (or document) once. */
function addStyles(doc: Document, container: HTMLElement): void {
  const root = container.getRootNode() as ShadowRoot | Document;
  if (styled.has(root)) return;
  styled.add(root);
  if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
  } else {
    const style = doc.createElement("style");
    style.textContent = CSS;
    // A document (the UI mounted outside a shadow root) takes it in its head.
    (root.nodeType === 9 ? doc.head : root).append(style);
  }
}

let counter = 0;

/** Renders one offer into `mount.container` (emptied first). */
export function mountAction(context: ActionUiContext, mount: ActionMount): void {
  const { container, offer } = mount;
  const doc = container.ownerDocument;
  const t = ACTION_STRINGS[context.language] ?? en;
  const say = (text: string) => text.replace("{business}", context.business);
  const base = `bitb-act${++counter}`;
  addStyles(doc, container);

  const el = <K extends keyof HTMLElementTagNameMap>(
    tag: K,
    className = "",
    text = "",
  ): HTMLElementTagNameMap[K] => {
    const element = doc.createElement(tag);
    if (className) element.className = className;
    if (text) element.textContent = text;
    return element;
  };

  const card = el("div", "act");
  card.setAttribute("role", "group");
  const title = el("p", "act-title", offer.title);
  title.id = `${base}-title`;
  card.setAttribute("aria-labelledby", title.id);
  card.append(title);
  if (offer.description) card.append(el("p", "act-desc", offer.description));
  // The outcome, announced politely and focused once it is there.
  const result = el("p", "act-result");
  result.setAttribute("role", "status");
  result.tabIndex = -1;
  const generalError = el("p", "act-error");
  generalError.setAttribute("role", "alert");
  generalError.hidden = true;
  generalError.tabIndex = -1;

  container.replaceChildren(card);
  if (mount.outcome !== null) {
    result.textContent = mount.outcome;
    card.append(result);
    return;
  }
  if (offer.expiresAt <= Date.now()) {
    result.textContent = t.expired;
    card.append(result);
    return;
  }

  // ---- The form ----
  interface Control {
    field: ActionField;
    wrap: HTMLElement;
    input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
    error: HTMLElement;
  }
  const controls = new Map<string, Control>();
  const form = el("form", "act-form");
  form.noValidate = true;

  function makeInput(field: ActionField, id: string): Control["input"] {
    let input: Control["input"];
    if (field.type === "textarea") {
      input = el("textarea");
      input.rows = 3;
    } else if (field.type === "select") {
      input = selectOf(field.options ?? [], field.required, String(field.value ?? ""));
    } else {
      input = el("input");
      input.type = field.type;
      if (field.type === "date" && offer.name === "book_appointment") input.min = today();
    }
    input.id = id;
    input.name = field.name;
    if (field.value !== undefined && field.type !== "select") input.value = String(field.value);
    if (field.required) input.required = true;
    return input;
  }

  function selectOf(
    options: readonly string[],
    required: boolean,
    chosen: string,
  ): HTMLSelectElement {
    const select = el("select");
    const placeholder = el("option", "", t.choose);
    placeholder.value = "";
    if (required) placeholder.disabled = true;
    placeholder.selected = !options.includes(chosen);
    select.append(placeholder);
    for (const option of options) {
      const item = el("option", "", option);
      item.value = option;
      item.selected = option === chosen;
      select.append(item);
    }
    return select;
  }

  function addControl(field: ActionField, parent: HTMLElement): Control {
    const wrap = el("div", "act-field");
    const id = `${base}-${field.name}`;
    const label = el("label", "", field.label);
    label.setAttribute("for", id);
    if (!field.required) label.append(" ", el("span", "act-opt", t.optional));
    const input = makeInput(field, id);
    const error = el("p", "act-ferr");
    error.id = `${id}-error`;
    error.hidden = true;
    wrap.append(label, input, error);
    parent.append(wrap);
    const control = { field, wrap, input, error };
    controls.set(field.name, control);
    return control;
  }

  for (const field of offer.fields) addControl(field, form);
  const contactFields: ActionField[] = offer.contact
    ? [
        { name: "name", label: t.name, type: "text", required: true },
        { name: "email", label: t.email, type: "email", required: false },
        { name: "phone", label: t.phone, type: "tel", required: false },
      ]
    : [];
  const contactControls = contactFields.map((field) => {
    const control = addControl({ ...field }, form);
    control.input.setAttribute("autocomplete", field.name === "phone" ? "tel" : field.name);
    return control;
  });
  let consent: HTMLInputElement | null = null;
  let consentError: HTMLElement | null = null;
  if (offer.contact) {
    const wrap = el("div", "act-field");
    consent = el("input");
    consent.type = "checkbox";
    consent.id = `${base}-consent`;
    const label = el("label", "act-check");
    label.setAttribute("for", consent.id);
    // The box sits inside its label so the whole sentence is its click target.
    label.append(consent, el("span", "", say(t.consent)));
    consentError = el("p", "act-ferr");
    consentError.id = `${consent.id}-error`;
    consentError.hidden = true;
    wrap.append(label, consentError);
    form.append(wrap);
  }
  const buttons = el("div", "act-buttons");
  const confirm = el("button", "act-primary", t.confirm);
  confirm.type = "submit";
  const cancel = el("button", "act-secondary", t.cancel);
  cancel.type = "button";
  buttons.append(confirm, cancel);
  form.append(generalError, buttons);

  const open = el("button", "act-secondary act-open", t.openForm);
  open.type = "button";
  open.setAttribute("aria-describedby", title.id);
  open.setAttribute("aria-expanded", "false");

  card.append(form, open, result);
  const firstField = () => form.querySelector<HTMLElement>("input,select,textarea");

  function showForm(show: boolean, focus: boolean): void {
    form.hidden = !show;
    open.hidden = show;
    open.setAttribute("aria-expanded", String(show));
    if (focus) (show ? firstField() : open)?.focus();
  }
  open.addEventListener("click", () => showForm(true, true));
  cancel.addEventListener("click", () => {
    clearErrors();
    showForm(false, true);
  });
  showForm(offer.source === "tool", offer.source === "tool" && mount.focus);

  // ---- Errors next to their fields ----
  function setError(control: Pick<Control, "input" | "error">, message: string): void {
    control.error.textContent = message;
    control.error.hidden = message === "";
    if (message) {
      control.input.setAttribute("aria-invalid", "true");
      control.input.setAttribute("aria-describedby", control.error.id);
    } else {
      control.input.removeAttribute("aria-invalid");
      control.input.removeAttribute("aria-describedby");
    }
  }
  function clearErrors(): void {
    for (const control of controls.values()) setError(control, "");
    if (consent && consentError) setError({ input: consent, error: consentError }, "");
    generalError.textContent = "";
    generalError.hidden = true;
  }
  function showGeneral(message: string): void {
    generalError.textContent = message;
    generalError.hidden = false;
  }

  // ---- Free times for appointments ----
  const auth = async (): Promise<VisitorAuth | null> => {
    const sessionToken = await context.sessionToken();
    return sessionToken === null
      ? null
      : { origin: context.origin, tenantId: context.tenantId, key: context.key, sessionToken };
  };
  const day = controls.get("date");
  const time = controls.get("time");
  let slotRequest = 0;
  async function refreshSlots(): Promise<void> {
    if (!day || !time || offer.name !== "book_appointment") return;
    const date = day.input.value;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return;
    const mine = ++slotRequest;
    const hint = ensureHint(time);
    hint.textContent = t.loadingSlots;
    const credentials = await auth();
    const slots = credentials ? await fetchSlots(credentials, date, context.fetch) : null;
    if (mine !== slotRequest) return;
    hint.textContent = "";
    // Unreadable: keep whatever control the time has, the server checks the time anyway.
    if (slots === null) return;
    const before = time.input.value;
    const select = selectOf(slots, time.field.required, before);
    select.id = time.input.id;
    select.name = time.field.name;
    select.required = time.field.required;
    time.input.replaceWith(select);
    time.input = select;
    setError(time, slots.length === 0 ? t.noSlots : "");
  }
  function ensureHint(control: Control): HTMLElement {
    let hint = control.wrap.querySelector<HTMLElement>(".act-hint");
    if (!hint) {
      hint = el("p", "act-hint");
      hint.setAttribute("aria-live", "polite");
      control.error.before(hint);
    }
    return hint;
  }
  day?.input.addEventListener("change", () => void refreshSlots());
  if (day?.input.value) void refreshSlots();
  // A field's error goes once the visitor changes it (checks run again on Confirm).
  form.addEventListener("change", (event) => {
    for (const control of controls.values()) {
      if (control.input === event.target) setError(control, "");
    }
    if (consent && consentError && event.target === consent && consent.checked) {
      setError({ input: consent, error: consentError }, "");
    }
  });

  // ---- Confirming ----
  function check(): Control | HTMLInputElement | null {
    clearErrors();
    let first: Control | HTMLInputElement | null = null;
    const fail = (control: Control, message: string) => {
      setError(control, message);
      first ??= control;
    };
    for (const control of controls.values()) {
      const value = control.input.value.trim();
      if (control.field.required && value === "") fail(control, t.required);
      else if (
        control.field.type === "email" &&
        value &&
        !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)
      ) {
        fail(control, t.badEmail);
      }
    }
    const [, email, phone] = contactControls;
    if (email && phone && !email.input.value.trim() && !phone.input.value.trim()) {
      fail(email, t.reachable);
    }
    if (consent && consentError && !consent.checked) {
      setError({ input: consent, error: consentError }, say(t.consentNeeded));
      first ??= consent;
    }
    return first;
  }

  function confirmation(): Confirmation {
    const args: Record<string, string | number> = {};
    for (const field of offer.fields) {
      const value = controls.get(field.name)?.input.value.trim() ?? "";
      if (value === "") continue;
      args[field.name] =
        field.type === "number" && Number.isFinite(Number(value)) ? Number(value) : value;
    }
    const body: Confirmation = { offerId: offer.offerId, args, consent: consent?.checked === true };
    if (offer.contact) {
      const contact: Record<string, string> = {};
      for (const control of contactControls) {
        const value = control.input.value.trim();
        if (value) contact[control.field.name] = value;
      }
      body.contact = contact;
    }
    return body;
  }

  const focusOn = (target: Control | HTMLElement) =>
    ("input" in target ? target.input : target).focus();

  let sending = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (sending) return;
    const invalid = check();
    if (invalid) return focusOn(invalid);
    void send();
  });

  async function send(): Promise<void> {
    sending = true;
    confirm.disabled = true;
    confirm.textContent = t.sending;
    form.setAttribute("aria-busy", "true");
    const credentials = await auth();
    const outcome = credentials
      ? await confirmAction(credentials, confirmation(), context.fetch)
      : ({ ok: false, code: "network_error", message: "", fields: {} } as const);
    sending = false;
    confirm.disabled = false;
    confirm.textContent = t.confirm;
    form.removeAttribute("aria-busy");
    if (outcome.ok) {
      const text =
        outcome.reference && !outcome.message.includes(outcome.reference)
          ? `${outcome.message} (${outcome.reference})`
          : outcome.message;
      return finish(text, () => mount.onDone(text));
    }
    switch (outcome.code) {
      case "invalid_request": {
        let first: Control | null = null;
        for (const [name, message] of Object.entries(outcome.fields)) {
          const control = controls.get(name.replace(/^contact\./, ""));
          if (!control) continue;
          setError(control, message);
          first ??= control;
        }
        if (first) return focusOn(first);
        showGeneral(outcome.message || t.failed);
        return focusOn(generalError);
      }
      case "consent_required":
        if (consent && consentError) {
          setError({ input: consent, error: consentError }, say(t.consentNeeded));
          return consent.focus();
        }
        break;
      case "slot_taken":
        if (time) {
          setError(time, t.slotTaken);
          await refreshSlots();
          if (!time.error.textContent) setError(time, t.slotTaken);
          return focusOn(time);
        }
        break;
      case "offer_expired":
        return finish(t.expired);
      case "network_error":
        showGeneral(t.network);
        return focusOn(generalError);
    }
    showGeneral(outcome.message || t.failed);
    focusOn(generalError);
  }

  function finish(text: string, after?: () => void): void {
    form.remove();
    open.remove();
    result.textContent = text;
    // The chat re-renders the answer when it records the outcome, which moves this card:
    // focus after that, or the move would drop it.
    after?.();
    result.focus();
  }
}

/** Today in the visitor's time zone, as YYYY-MM-DD. */
function today(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}
