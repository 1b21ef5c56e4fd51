import {
  Links,
  Meta,
  Outlet,
  Scripts,
  ScrollRestoration,
  isRouteErrorResponse,
} from "react-router";
import { useNonce } from "./nonce.ts";
import type { Route } from "./+types/root";
import "./app.css";

export const meta: Route.MetaFunction = () => [{ title: "BiTB" }];

export function Layout({ children }: { children: React.ReactNode }) {
  const nonce = useNonce();
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body>
        {children}
        <ScrollRestoration nonce={nonce} />
        <Scripts nonce={nonce} />
      </body>
    </html>
  );
}

export default function App() {
  return <Outlet />;
}

export function ErrorBoundary({ error }: Route.ErrorBoundaryProps) {
  let title = "Something went wrong";
  let detail = "Please try again. If it keeps happening, check the server logs.";
  if (isRouteErrorResponse(error)) {
    title = error.status === 404 ? "Not found" : `${error.status} ${error.statusText}`;
    detail = typeof error.data === "string" ? error.data : detail;
  }
  return (
    <main className="page narrow">
      <h1>{title}</h1>
      <p>{detail}</p>
      <p>
        <a href="/">Back to the start page</a>
      </p>
    </main>
  );
}
