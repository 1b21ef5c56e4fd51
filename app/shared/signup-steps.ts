// The four steps of the self-serve trial (/signup), shared by the server (which saves how far
// a sign-up got) and the pages (the step list at the top of each one).
export const SIGNUP_STEPS = [
  { step: 1, path: "/signup", label: "Your account" },
  { step: 2, path: "/signup/knowledge", label: "Add knowledge" },
  { step: 3, path: "/signup/widget", label: "Style the widget" },
  { step: 4, path: "/signup/embed", label: "Put it on your site" },
] as const;

export type SignupStep = (typeof SIGNUP_STEPS)[number]["step"];

export function signupStepPath(step: SignupStep): string {
  return SIGNUP_STEPS[step - 1]?.path ?? "/signup";
}

/** What a business says it does (optional at step 1); the knowledge-base check reads it. */
export const INDUSTRIES = [
  { value: "restaurant", label: "Restaurant or café" },
  { value: "clinic", label: "Clinic or health practice" },
  { value: "retail", label: "Shop or e-commerce" },
  { value: "saas", label: "Software or online service" },
  { value: "services", label: "Professional services" },
  { value: "other", label: "Something else" },
] as const;

export type Industry = (typeof INDUSTRIES)[number]["value"];
