// Extension points for the demo's feature modules (a co-host panel,
// simulcast controls, ...), so a feature arrives as a new file instead of
// edits all over app.js. A module registers itself when loaded — add its
// <script type="module"> to index.html after app.js:
//
//   import { register } from './modules.js';
//   register({
//     name: 'cohost',
//     client(session, client) { ... },   // each (re)connection: add listeners
//     joined(session, snapshot) { ... },  // after each room.join
//     render(session) { ... },            // after the page redraws the room
//     teardown(session) { ... },          // back at the join form
//   });
//
// Hooks are optional; a module's panel goes in #extensions (the side
// column). A throwing hook is reported on the console and skipped: one
// module cannot break the page.

const modules = [];

/** register adds a module; its hooks run from the next Session on. */
export function register(module) {
  modules.push(module);
}

/** emit runs hook on every module that has it, with args. */
export function emit(hook, ...args) {
  for (const m of modules) {
    if (typeof m[hook] !== 'function') continue;
    try {
      m[hook](...args);
    } catch (e) {
      console.error(`[seatsfu] module ${m.name || '?'}: ${hook} failed`, e);
    }
  }
}
