using Accelerator.Hosting.Metrics;

namespace Accelerator.Hosting.Tests.Metrics;

public sealed class PrometheusTextTests
{
    [Fact]
    public void ToString_CounterAndGauges_OneHelpTypeSampleBlockEach()
    {
        string text = new PrometheusText()
            .Counter("accel_x_total", "Things done.", 12_345_678_901_234_567)
            .Gauge("accel_y", "Things now.", 3)
            .Gauge("accel_z_ratio", "A fraction.", 0.25)
            .ToString();

        Assert.Equal(
            "# HELP accel_x_total Things done.\n# TYPE accel_x_total counter\naccel_x_total 12345678901234567\n" +
            "# HELP accel_y Things now.\n# TYPE accel_y gauge\naccel_y 3\n" +
            "# HELP accel_z_ratio A fraction.\n# TYPE accel_z_ratio gauge\naccel_z_ratio 0.25\n",
            text);
    }

    [Fact]
    public void Gauge_Double_InvariantCultureRoundTrip()
    {
        var culture = Thread.CurrentThread.CurrentCulture;
        Thread.CurrentThread.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
        try
        {
            Assert.EndsWith("accel_g 1.5\n", new PrometheusText().Gauge("accel_g", "g", 1.5).ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Thread.CurrentThread.CurrentCulture = culture;
        }
    }
}
