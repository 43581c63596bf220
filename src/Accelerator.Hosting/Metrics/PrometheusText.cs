using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Accelerator.Hosting.Metrics;

/// <summary>
/// Writes Prometheus text exposition format 0.0.4, one <c># HELP</c>/<c># TYPE</c> block and one sample per metric: what the
/// daemons (replication service, P2P scheduler, peer, registry-mirror proxy) serve on <c>/metrics</c>.
/// </summary>
public sealed class PrometheusText
{
    /// <summary>The content type of the text format, version 0.0.4.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _text = new();

    /// <summary>Adds a counter (a total that only grows); returns this writer.</summary>
    public PrometheusText Counter(string name, string help, long value)
        => Write(name, help, "counter", value.ToString(CultureInfo.InvariantCulture));

    /// <summary>Adds a gauge with a whole-number value; returns this writer.</summary>
    public PrometheusText Gauge(string name, string help, long value)
        => Write(name, help, "gauge", value.ToString(CultureInfo.InvariantCulture));

    /// <summary>Adds a gauge; returns this writer.</summary>
    public PrometheusText Gauge(string name, string help, double value)
        => Write(name, help, "gauge", value.ToString("R", CultureInfo.InvariantCulture));

    /// <summary>
    /// Adds a counter with one sample per label set (e.g. <c>strategy="lazy",reason="served"</c>); label values are
    /// escaped as the format requires (backslash, double quote, line feed). Returns this writer.
    /// </summary>
    public PrometheusText Counter(string name, string help, IEnumerable<(IReadOnlyList<KeyValuePair<string, string>> Labels, long Value)> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        _text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(" counter\n");
        foreach (var (labels, value) in samples)
        {
            _text.Append(name).Append('{');
            for (int i = 0; i < labels.Count; i++)
            {
                string escaped = labels[i].Value.Replace("\\", "\\\\", StringComparison.Ordinal)
                    .Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
                _text.Append(i == 0 ? "" : ",").Append(labels[i].Key).Append("=\"").Append(escaped).Append('"');
            }

            _text.Append("} ").Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        return this;
    }

    /// <summary>The text written so far.</summary>
    public override string ToString() => _text.ToString();

    /// <summary>Answers a request with the text written so far (<see cref="ContentType"/>, status 200).</summary>
    public Task WriteToAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        response.ContentType = ContentType;
        return response.WriteAsync(ToString(), cancellationToken);
    }

    private PrometheusText Write(string name, string help, string type, string value)
    {
        _text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        _text.Append(name).Append(' ').Append(value).Append('\n');
        return this;
    }
}
