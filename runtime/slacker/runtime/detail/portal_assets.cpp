// The portal's page, style and script, embedded: nothing is fetched from
// anywhere but the process itself (its Content-Security-Policy says so too).

namespace slacker::portal {

extern const char* const page_html;
extern const char* const style_css;
extern const char* const script_js;

const char* const page_html = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>slacker</title>
<link rel="stylesheet" href="/portal.css">
<script src="/portal.js" defer></script>
</head>
<body>
<header>
<strong>slacker</strong>
<nav>
<a data-page="overview" href="/">overview</a>
<a data-page="cluster" href="/cluster">cluster</a>
<a data-page="calls" href="/calls">calls</a>
<a data-page="connections" href="/connections">connections</a>
<a data-page="config" href="/config">config</a>
</nav>
<span id="status" class="muted">loading</span>
</header>
<main id="main"></main>
</body>
</html>
)html";

const char* const style_css = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 1.5em; align-items: center; padding: .6em 1.2em;
         background: #1d2330; color: #fff; }
header a { color: #c9d3e6; text-decoration: none; margin-right: 1em; }
header a.here { color: #fff; border-bottom: 2px solid #6ea8fe; }
main { padding: 1em 1.2em; }
h2 { font-size: 1.1em; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; background: #fff; margin-bottom: 1em; }
th, td { padding: .3em .7em; border-bottom: 1px solid #e3e6eb; text-align: left;
         vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #8a93a3; }
#status { margin-left: auto; font-size: .9em; }
.state { padding: .05em .5em; border-radius: .7em; font-size: .9em; }
.routed, .ok, .connected { background: #d8f3dc; }
.unreachable, .ejected, .error, .lost, .expired { background: #ffd6d6; }
.leaving, .draining, .connecting, .offline, .shedding, .unheard { background: #fff1c2; }
svg.spark { width: 120px; height: 24px; }
svg.spark polyline { fill: none; stroke: #3b6fd8; stroke-width: 1.5; }
pre { margin: 0; white-space: pre-wrap; max-width: 40em; }
)css";

const char* const script_js = R"js('use strict';
(function () {
  const pages = ['overview', 'cluster', 'calls', 'connections', 'config'];
  const path = location.pathname.replace(/^\/+|\/+$/g, '');
  const page = pages.indexOf(path) >= 0 ? path : 'overview';
  const token = new URLSearchParams(location.search).get('token');
  const query = token ? '?token=' + encodeURIComponent(token) : '';
  const main = document.getElementById('main');
  const status = document.getElementById('status');
  document.querySelectorAll('nav a').forEach(function (a) {
    a.href = a.getAttribute('href') + query;
    if (a.dataset.page === page) a.className = 'here';
  });
  document.title = 'slacker: ' + page;

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }
  function text(x) { return x === undefined || x === null ? '' : String(x); }
  function num(x, digits) {
    if (x === undefined || x === null) return '';
    return Number(x).toLocaleString('en-US', { maximumFractionDigits: digits || 0 });
  }
  function cell(x, cls) {
    if (x instanceof Node) return el('td', cls ? { class: cls } : {}, [x]);
    return el('td', cls ? { class: cls } : {}, [text(x)]);
  }
  function table(id, heads, rows, numeric) {
    const t = el('table', { id: id }, [el('tr', {}, heads.map(function (h) {
      return el('th', {}, [h]);
    }))]);
    rows.forEach(function (r) {
      t.appendChild(el('tr', {}, r.map(function (c, i) {
        return cell(c, numeric && numeric.indexOf(i) >= 0 ? 'num' : '');
      })));
    });
    if (rows.length === 0)
      t.appendChild(el('tr', {}, [el('td', { colspan: heads.length, class: 'muted' },
                                      ['none'])]));
    return t;
  }
  function badge(s) { return el('span', { class: 'state ' + s }, [s]); }
  function spark(series) {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 120 24');
    const max = Math.max(1, Math.max.apply(null, series));
    const step = series.length > 1 ? 120 / (series.length - 1) : 0;
    const pts = series.map(function (v, i) {
      return (i * step).toFixed(1) + ',' + (23 - 22 * v / max).toFixed(1);
    }).join(' ');
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    line.setAttribute('points', pts);
    svg.appendChild(line);
    return svg;
  }
  function ago(ms) {
    if (ms === undefined || ms === null) return '';
    const s = ms / 1000;
    if (s < 60) return s.toFixed(1) + ' s';
    if (s < 3600) return (s / 60).toFixed(1) + ' min';
    return (s / 3600).toFixed(1) + ' h';
  }
  function bytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1048576).toFixed(1) + ' MiB';
  }
  function kv(obj) {
    return table('', ['what', 'value'], Object.keys(obj).map(function (k) {
      const v = obj[k];
      return [k, typeof v === 'object' ? JSON.stringify(v) : text(v)];
    }));
  }
  function errors(e) {
    return Object.keys(e || {}).map(function (k) { return k + ' ' + e[k]; }).join(', ');
  }

  const render = {
    overview: function (d) {
      const p = d.process;
      const out = [el('h2', {}, ['this process']),
                   kv({ pid: p.pid, version: p.version, uptime: ago(p.uptime_ms),
                        'portal address': p.address })];
      d.parts.forEach(function (part) {
        out.push(el('h2', {}, [part.title]), kv(part.data));
      });
      return out;
    },
    cluster: function (d) {
      const out = [];
      d.parts.forEach(function (part) {
        const c = part.data;
        out.push(el('h2', {}, [part.title]));
        if (c.error) { out.push(el('p', { class: 'error' }, [c.error])); return; }
        out.push(el('p', {}, ['ZooKeeper ', badge(c.zookeeper), ' view age ' +
                              ago(c.view_age_ms)]));
        out.push(table('servers', ['server', 'state', 'namespaces', 'server-data',
                                   'calls', 'ejections'],
          c.servers.map(function (s) {
            return [s.addr, badge(s.state), s.namespaces.join(', '),
                    el('pre', {}, [text(s.data)]), num(s.calls),
                    num(s.ejections)];
          }), [4, 5]));
        out.push(table('leaders', ['namespace', 'leader', 'fencing token'],
          c.leaders.map(function (l) { return [l.ns, l.addr, l.token]; })));
      });
      if (d.parts.length === 0)
        out.push(el('p', { class: 'muted' }, ['this process follows no cluster']));
      return out;
    },
    calls: function (d) {
      const heads = ['calls/s', 'last minute', 'calls (min)', 'errors/s', 'errors by code',
                     'p50 µs', 'p99 µs', 'in flight'];
      function row(r) {
        return [num(r.rate, 1), spark(r.series), num(r.calls), num(r.error_rate, 2),
                errors(r.errors), num(r.p50_us), num(r.p99_us), num(r.in_flight)];
      }
      return [
        el('h2', {}, ['functions served (last ' + d.window_s + ' s)']),
        table('served', ['namespace', 'function'].concat(heads), d.served.map(function (r) {
          return [r.ns, r.fn].concat(row(r));
        }), [2, 4, 5, 7, 8, 9]),
        el('h2', {}, ['servers called (last ' + d.window_s + ' s)']),
        table('called', ['cluster', 'server', 'routed'].concat(heads),
          d.client.map(function (r) {
            return [r.cluster, r.server, badge(r.routable ? 'routed' : 'unreachable')]
              .concat(row(r));
          }), [3, 5, 6, 8, 9, 10])];
    },
    connections: function (d) {
      return [el('h2', {}, ['connections (' + d.links.length + ')']),
        table('links', ['side', 'peer', 'cluster', 'TLS', 'in flight', 'calls',
                        'bytes in', 'bytes out', 'age', 'idle'],
          d.links.map(function (l) {
            return [l.side === 'in' ? 'client of this server' : 'to a server', l.peer,
                    l.cluster, l.tls ? 'yes' : 'no', num(l.in_flight), num(l.calls),
                    bytes(l.bytes_in), bytes(l.bytes_out), ago(l.age_ms), ago(l.idle_ms)];
          }), [4, 5, 6, 7])];
    },
    config: function (d) {
      return [el('h2', {}, ['settings']),
        table('settings', ['setting', 'value', 'from', 'what it does'],
          d.settings.map(function (s) { return [s.name, s.value, s.source, s.about]; }))];
    }
  };

  let timer = null;
  function poll() {
    fetch('/api/' + page + query, { cache: 'no-store' })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(function (d) {
        const nodes = render[page](d);
        main.replaceChildren.apply(main, nodes);
        status.textContent = 'updated ' + new Date().toLocaleTimeString();
        status.className = 'muted';
      })
      .catch(function (e) {
        status.textContent = 'not updated: ' + e.message;
        status.className = 'state error';
      })
      .finally(function () { timer = setTimeout(poll, 2000); });
  }
  poll();
  window.addEventListener('beforeunload', function () { clearTimeout(timer); });
})();
)js";

} // namespace slacker::portal
