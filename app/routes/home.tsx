// The landing page: what BiTB is, and the way in for admins, visitors and monitors.
import { Link } from "react-router";
import type { Route } from "./+types/home";

export const meta: Route.MetaFunction = () => [
  { title: "BiTB — answers from your own documents" },
  {
    name: "description",
    content:
      "A self-hostable, multi-tenant chatbot that answers from your documents, with sources.",
  },
];

export default function Home() {
  return (
    <main className="page narrow home">
      <h1>BiTB</h1>
      <p>
        BiTB is a self-hostable chatbot for your website that answers visitors&rsquo; questions from
        your own documents — uploaded files, pasted text and web pages — and cites the passages it
        used. Each tenant&rsquo;s knowledge base lives in its own SQLite database; you add knowledge
        in the admin app and put the widget on your site with one script tag.
      </p>
      <ul className="link-list">
        <li>
          <Link className="button" to="/signup">
            Start a free trial
          </Link>
        </li>
        <li>
          <Link className="button secondary-button" to="/login">
            Admin sign-in
          </Link>
        </li>
        <li>
          <Link className="button secondary-button" to="/demo">
            Try the demo
          </Link>
        </li>
        <li>
          <a href="/healthz">Health</a>
        </li>
      </ul>
    </main>
  );
}
