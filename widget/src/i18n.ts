// The widget's own words in English, French, German and Spanish. The language is the tenant's
// setting when it has one, else the visitor's browser language, else English. Answers are in
// whatever language the knowledge base and the model use; only the interface is translated.
export type Language = "en" | "fr" | "de" | "es";

export interface Strings {
  open: string;
  close: string;
  ask: string;
  placeholder: string;
  send: string;
  thinking: string;
  sources: string;
  source: string;
  retry: string;
  tryAgain: string;
  connectionLost: string;
  offline: string;
  quota: string;
  rateLimited: string;
  copy: string;
  copied: string;
  helpful: string;
  notHelpful: string;
  newChat: string;
  mute: string;
  suggestions: string;
  many: string;
  manyHint: string;
}

const en: Strings = {
  open: "Open chat",
  close: "Close chat",
  ask: "Ask a question",
  placeholder: "Ask a question…",
  send: "Send",
  thinking: "Thinking…",
  sources: "Sources",
  source: "Source",
  retry: "retry",
  tryAgain: "Try again",
  connectionLost: "Connection lost",
  offline: "You are offline. Check your connection, then try again.",
  quota: "This assistant has reached its usage limit for now. Please try again later.",
  rateLimited: "Too many questions right now. Please wait a moment, then try again.",
  copy: "Copy answer",
  copied: "Answer copied",
  helpful: "Helpful",
  notHelpful: "Not helpful",
  newChat: "New chat",
  mute: "Mute voice greeting",
  suggestions: "Suggested questions",
  many: "Several questions",
  manyHint: "One question per line",
};

const fr: Strings = {
  open: "Ouvrir le chat",
  close: "Fermer le chat",
  ask: "Poser une question",
  placeholder: "Posez une question…",
  send: "Envoyer",
  thinking: "Réflexion…",
  sources: "Sources",
  source: "Source",
  retry: "réessayer",
  tryAgain: "Réessayer",
  connectionLost: "Connexion perdue",
  offline: "Vous êtes hors ligne. Vérifiez votre connexion, puis réessayez.",
  quota: "Cet assistant a atteint sa limite d'utilisation. Réessayez plus tard.",
  rateLimited: "Trop de questions pour le moment. Patientez un instant, puis réessayez.",
  copy: "Copier la réponse",
  copied: "Réponse copiée",
  helpful: "Utile",
  notHelpful: "Pas utile",
  newChat: "Nouvelle conversation",
  mute: "Couper le message vocal",
  suggestions: "Questions suggérées",
  many: "Plusieurs questions",
  manyHint: "Une question par ligne",
};

const de: Strings = {
  open: "Chat öffnen",
  close: "Chat schließen",
  ask: "Eine Frage stellen",
  placeholder: "Stellen Sie eine Frage…",
  send: "Senden",
  thinking: "Denke nach…",
  sources: "Quellen",
  source: "Quelle",
  retry: "erneut versuchen",
  tryAgain: "Erneut versuchen",
  connectionLost: "Verbindung unterbrochen",
  offline: "Sie sind offline. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.",
  quota: "Dieser Assistent hat sein Nutzungslimit erreicht. Bitte versuchen Sie es später.",
  rateLimited: "Gerade zu viele Fragen. Bitte warten Sie kurz und versuchen Sie es erneut.",
  copy: "Antwort kopieren",
  copied: "Antwort kopiert",
  helpful: "Hilfreich",
  notHelpful: "Nicht hilfreich",
  newChat: "Neuer Chat",
  mute: "Sprachbegrüßung stummschalten",
  suggestions: "Vorgeschlagene Fragen",
  many: "Mehrere Fragen",
  manyHint: "Eine Frage pro Zeile",
};

const es: Strings = {
  open: "Abrir chat",
  close: "Cerrar chat",
  ask: "Hacer una pregunta",
  placeholder: "Haz una pregunta…",
  send: "Enviar",
  thinking: "Pensando…",
  sources: "Fuentes",
  source: "Fuente",
  retry: "reintentar",
  tryAgain: "Reintentar",
  connectionLost: "Conexión perdida",
  offline: "Estás sin conexión. Comprueba tu conexión y vuelve a intentarlo.",
  quota: "Este asistente alcanzó su límite de uso. Vuelve a intentarlo más tarde.",
  rateLimited: "Demasiadas preguntas ahora mismo. Espera un momento y vuelve a intentarlo.",
  copy: "Copiar respuesta",
  copied: "Respuesta copiada",
  helpful: "Útil",
  notHelpful: "No útil",
  newChat: "Nueva conversación",
  mute: "Silenciar el saludo de voz",
  suggestions: "Preguntas sugeridas",
  many: "Varias preguntas",
  manyHint: "Una pregunta por línea",
};

export const STRINGS: Record<Language, Strings> = { en, fr, de, es };

/** `setting` when it is supported, else the browser's language (`fr-CA` → fr), else en. */
export function pickLanguage(
  setting: string | null | undefined,
  browserLanguage: string | null | undefined,
): Language {
  for (const candidate of [setting, browserLanguage?.slice(0, 2)]) {
    const code = candidate?.toLowerCase();
    if (code && code in STRINGS) return code as Language;
  }
  return "en";
}
