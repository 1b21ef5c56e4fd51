// How an LLM triggers actions (issue 11, item 2): turns of the tool-calling provider, in a
// loop, until the model answers in text. Every call is validated against its action's schema
// before anything runs; an invalid or unknown call is answered with the error so the model
// can correct itself. Calls without side effects (search, order tracking, returns) run and
// their results go back to the model, so several can chain. A call that changes something
// (booking, lead, cart, subscription, hand-off) never runs here: the loop stops and returns
// it as a proposal that the visitor must confirm in the widget. Not wired into asks yet.
import type {
  ToolCall,
  ToolCallingProvider,
  ToolConversationMessage,
} from "../llm/tool-calling.server.ts";
import type { TokenUsage } from "../llm/provider.server.ts";
import { actionToolSpecs, type ActionName, parseActionCall } from "./registry.server.ts";

export const DEFAULT_MAX_STEPS = 4;

/** Runs an action that changes nothing and returns its result as text for the model. */
export type ReadOnlyRunner = (
  name: ActionName,
  args: Record<string, unknown>,
  signal?: AbortSignal,
) => Promise<string>;

export interface ToolLoopInput {
  provider: ToolCallingProvider;
  /** The conversation so far, ending with the visitor's message. */
  messages: readonly ToolConversationMessage[];
  /** The actions the tenant switched on (search_knowledge_base is always on). */
  enabled: readonly ActionName[];
  runReadOnly: ReadOnlyRunner;
  /** Model turns that may call tools; one more turn without tools then forces a text answer. */
  maxSteps?: number;
  model?: string;
  signal?: AbortSignal;
}

/** One call the loop handled, for the audit log and the tests. */
export interface ToolLoopStep {
  call: ToolCall;
  outcome: "ran" | "invalid" | "failed" | "proposed" | "skipped";
  /** What the model was told (the result or the error); null for a proposal. */
  result: string | null;
}

export interface ProposedAction {
  callId: string;
  name: ActionName;
  args: Record<string, unknown>;
}

export type ToolLoopResult = {
  /** The model's text: the answer, or what it said along with its proposal. */
  text: string;
  steps: ToolLoopStep[];
  /** The conversation including every turn and tool result, to continue after confirmation. */
  messages: ToolConversationMessage[];
  usage: TokenUsage;
} & (
  | { kind: "answer" }
  /** An action that changes something, waiting for the visitor's confirmation. */
  | { kind: "confirm"; proposal: ProposedAction }
);

function addUsage(total: TokenUsage, more: TokenUsage): TokenUsage {
  return {
    promptTokens: total.promptTokens + more.promptTokens,
    completionTokens: total.completionTokens + more.completionTokens,
    estimated: total.estimated || more.estimated,
  };
}

export async function runToolLoop(input: ToolLoopInput): Promise<ToolLoopResult> {
  const tools = actionToolSpecs(input.enabled);
  const maxSteps = input.maxSteps ?? DEFAULT_MAX_STEPS;
  const messages: ToolConversationMessage[] = [...input.messages];
  const steps: ToolLoopStep[] = [];
  let usage: TokenUsage = { promptTokens: 0, completionTokens: 0, estimated: false };

  for (let step = 0; ; step++) {
    const lastStep = step >= maxSteps;
    const turn = await input.provider.turn({
      messages,
      tools,
      // Past the step budget the model must answer with what it has.
      toolChoice: lastStep ? "none" : "auto",
      model: input.model,
      signal: input.signal,
    });
    usage = addUsage(usage, turn.usage);
    if (turn.toolCalls.length === 0 || lastStep) {
      messages.push({ role: "assistant", content: turn.text });
      return { kind: "answer", text: turn.text, steps, messages, usage };
    }
    messages.push({ role: "assistant", content: turn.text, toolCalls: turn.toolCalls });

    let proposal: ProposedAction | null = null;
    for (const call of turn.toolCalls) {
      const reply = (outcome: ToolLoopStep["outcome"], result: string) => {
        steps.push({ call, outcome, result });
        messages.push({ role: "tool", toolCallId: call.id, content: result });
      };
      if (proposal) {
        // One change at a time: the visitor confirms one action before the next is offered.
        reply("skipped", "Not run: another action is waiting for the visitor's confirmation.");
        continue;
      }
      const parsed = parseActionCall(call.name, call.arguments, input.enabled);
      if (!parsed.ok) {
        reply("invalid", parsed.error);
      } else if (parsed.sideEffect) {
        proposal = { callId: call.id, name: parsed.name, args: parsed.args };
        steps.push({ call, outcome: "proposed", result: null });
      } else {
        try {
          reply("ran", await input.runReadOnly(parsed.name, parsed.args, input.signal));
        } catch (error) {
          if (input.signal?.aborted) throw error;
          reply("failed", `${parsed.name} failed: it could not be completed just now.`);
        }
      }
    }
    if (proposal) return { kind: "confirm", proposal, text: turn.text, steps, messages, usage };
  }
}
