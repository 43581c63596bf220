using System.Globalization;
using System.Text;

namespace Accelerator.P2P.Protocol;

/// <summary>Writes Prometheus text exposition format 0.0.4 (one HELP/TYPE block per metric).</summary>
internal sealed class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _text = new();

    public PrometheusText Counter(string name, string help, long value) => Write(name, help, "counter", value);

    public PrometheusText Gauge(string name, string help, double value) => Write(name, help, "gauge", value);

    public override string ToString() => _text.ToString();

    private PrometheusText Write(string name, string help, string type, double value)
    {
        _text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        _text.Append(name).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        return this;
    }
}
