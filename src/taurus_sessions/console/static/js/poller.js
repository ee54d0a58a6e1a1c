// The auto-refresh of a view: load now, then again `seconds` after each load ends, until stopped.
// Loads never overlap: one asked for while another runs starts right after it. Each load is handed
// `current()`, false once its answer is no longer wanted (a newer load was asked for, the poller was
// paused or stopped), so a slow answer never overwrites a newer one nor a view the user has left.
// The view stops its poller when it is hidden (another tab) and when the page signs out.
export function createPoller(load, { seconds }) {
  const st = {
    ms: seconds * 1000,
    started: false,
    paused: false,
    busy: false, // a load is under way
    again: false, // another load was asked for meanwhile
    timer: null,
    generation: 0, // bumped when the answers of loads under way are no longer wanted
  };

  function schedule() {
    clearTimeout(st.timer);
    st.timer = null;
    if (st.started && !st.paused && !st.busy) st.timer = setTimeout(tick, st.ms);
  }

  // A page in a background browser tab asks the service nothing; it looks again at the next tick.
  function tick() {
    if (document.hidden) schedule();
    else run();
  }

  async function run() {
    if (!st.started) return;
    if (st.busy) {
      st.again = true;
      return;
    }
    st.busy = true;
    schedule();
    const generation = st.generation;
    try {
      await load(() => st.started && generation === st.generation);
    } finally {
      st.busy = false;
      if (st.again) {
        st.again = false;
        run();
      } else schedule();
    }
  }

  // Answers of loads under way are no longer wanted.
  function dropPending() {
    st.generation += 1;
  }

  return {
    start() {
      if (st.started) return;
      st.started = true;
      run();
    },
    stop() {
      st.started = false;
      st.again = false;
      dropPending();
      schedule();
    },
    // Load now (also while paused: a person asked for it), whatever the interval says.
    now() {
      dropPending();
      run();
    },
    pause() {
      st.paused = true;
      dropPending();
      schedule();
    },
    resume() {
      st.paused = false;
      this.now();
    },
    every(seconds) {
      st.ms = seconds * 1000;
      schedule();
    },
    get paused() {
      return st.paused;
    },
  };
}
