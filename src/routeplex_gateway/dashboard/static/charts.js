// Draws each usage chart from the JSON the server rendered beside its canvas. The tables
// under the charts carry the same numbers for readers without JavaScript.
(function () {
  "use strict";

  var palette = ["#1d4ed8", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2",
                 "#65a30d", "#dc2626", "#4b5563", "#ca8a04"];

  // Money as the pages write it (metering/money.py): cents from a cent up, two significant
  // digits below one ($0.0042), never a row of zeros.
  var cents = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
  var belowACent = new Intl.NumberFormat("en-US", {
    style: "currency", currency: "USD", maximumSignificantDigits: 2
  });

  function money(value) {
    var amount = Number(value);
    var size = Math.abs(amount);
    return (size > 0 && size < 0.01 ? belowACent : cents).format(amount);
  }

  function count(value) {
    return Number(value).toLocaleString("en-US");
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.source);
    if (!source || typeof Chart === "undefined") {
      return;
    }
    var spec = JSON.parse(source.textContent);
    var format = spec.unit === "usd" ? money : count;
    var stacked = spec.stacked !== false;
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (set, i) {
          return {
            label: set.label,
            data: set.data,
            backgroundColor: palette[i % palette.length],
            borderWidth: 0
          };
        })
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { stacked: stacked },
          y: { stacked: stacked, beginAtZero: true, ticks: { callback: format } }
        },
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (item) {
                return item.dataset.label + ": " + format(item.parsed.y);
              }
            }
          }
        }
      }
    });
  }

  document.querySelectorAll("canvas[data-source]").forEach(draw);
})();
