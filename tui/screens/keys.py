"""The main screen's keys: one Binding per action, with the words the footer, the palette and help show.

Keys follow pudb/gdb where they fit (n next, c continue, b break, C reverse-continue as gdb's
reverse-continue); none is a ctrl key (browsers reserve them). The find-the-cause keys (C, P, a, A,
/, f, d) are one action, `find(what)`, handled by screens/find.py.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

BINDINGS: list[BindingType] = [
    Binding("n", "next_op", "Next", tooltip="Compute the next op (forward, loss, backward or update)"),
    Binding("p", "previous_op", "Back", tooltip="Step back one op (time travel; recomputed, bit-identical)"),
    Binding("s", "next_stage", "Stage", tooltip="Run to the end of this stage (step over), or of the next"),
    Binding("i", "finish_iteration", "Iter", tooltip="Run to the last op of this iteration, or of the next"),
    Binding("e", "finish_epoch", "Epoch", show=False, tooltip="Run to the last op of this epoch, or of the next"),
    Binding("c", "continue", "Continue", tooltip="Run until a breakpoint hits (or a NaN loss, or esc)"),
    Binding("r", "run_iterations", "Run N", show=False, tooltip="Run N whole iterations (stops early at a breakpoint)"),
    Binding("escape", "stop", "Stop/clear", key_display="esc",
            tooltip="Stop a running continue / run N / jump; else clear the selected number"),
    Binding("C", "find('reverse')", "Reverse", key_display="C",
            tooltip="Reverse-continue: back to the latest earlier op where a breakpoint holds (nan: where NaN/inf began)"),
    Binding("P", "find('stage_back')", "Stage back", key_display="P", show=False,
            tooltip="Reverse step: back to the last op of the previous stage (s undoes it)"),
    Binding("a", "find('add_watch')", "Watch", show=False,
            tooltip="Watch a value as you step: norm(dW1), max(z2), loss, dead(1) — now and over the last iterations"),
    Binding("A", "find('list_watches')", "Watches", key_display="A", show=False, tooltip="List and remove watches"),
    Binding("slash", "find('search')", "Find", key_display="/", show=False,
            tooltip="Find in the tensors: nan (NaN/±inf), max (largest |value|) or a number; the focused pane first"),
    Binding("f", "find('follow')", "Follow", show=False,
            tooltip="Follow one sample: its row lit in every pane, its numbers worked out (the cursor's row, or ask)"),
    Binding("d", "find('delta_view')", "Δ view", show=False,
            tooltip="Show each tensor as Δ against the same op of the previous iteration (or of --compare B); d again: values"),
    Binding("b", "add_breakpoint", "Break", tooltip="Add a breakpoint, e.g. `loss < 0.01`, `nan`, `norm(dW1) > 100`"),
    Binding("B", "list_breakpoints", "Breakpoints", key_display="B", show=False, tooltip="Breakpoints: on/off (space), hit counts, ignore the next N hits (i), remove (d)"),
    Binding("g", "grad_check", "Grad check", show=False, tooltip="Check dW, db of this batch against finite differences"),
    Binding("w", "health", "Health", show=False, tooltip="Gradient health per layer: norms, update ratio, dead/saturated units"),
    Binding("x", "export", "Export", tooltip="Export the trace so far to JSON"),
    Binding("h", "toggle_mode", "Heat/num", show=False, tooltip="Tensor panes: heatmap+numbers, numbers, heat blocks"),
    Binding("full_stop", "precision", "Digits", key_display=".", show=False,
            tooltip="Tensor panes: 4, 6 or 2 significant digits (fewer when a pane is narrow)"),
    Binding("z", "zoom", "Zoom", show=False, tooltip="Zoom the focused tensor pane to the whole screen (tab focuses; z again)"),
    Binding("G", "goto_iteration", "Go to", key_display="G", show=False,
            tooltip="Jump to the first op of any iteration, earlier or later (time travel; esc stops a long one)"),
    Binding("0", "reset", "Reset", show=False, tooltip="Back to before the first op (history is kept)"),
    Binding("question_mark", "help", "Help", key_display="?", tooltip="Keys and what each pane shows"),
    Binding("q", "quit", "Quit", tooltip="Quit nnstep"),
]
# The footer always shows these (stop only while it does something); at 80 columns the others give
# way, in this order, when all do not fit (tui/widgets/key_footer.py). `?` lists every key.
FOOTER_KEPT = frozenset({"stop", "help", "quit"})
FOOTER_GIVES_WAY = ("export", "find('reverse')", "next_stage", "finish_iteration", "add_breakpoint", "continue",
                    "previous_op", "next_op")
# Off while a job runs (they would move the timeline the job owns).
MOVES = {"next_op", "previous_op", "goto_iteration", "next_stage", "finish_iteration", "finish_epoch", "reset", "continue",
         "run_iterations", "grad_check", "health", "export", "add_breakpoint", "list_breakpoints", "find"}
