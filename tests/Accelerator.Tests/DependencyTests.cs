using System.Xml.Linq;

namespace Accelerator.Tests;

/// <summary>
/// The facade package references Abstractions, Oci and Microsoft.Extensions.* only: providers depend on it, never the
/// other way round, so referencing it does not pull in every strategy (docs/architecture.md).
/// </summary>
public sealed class DependencyTests
{
    [Fact]
    public void Project_ReferencesNoProviderPackage()
    {
        var project = XDocument.Load(Path.Combine(FindRepositoryRoot(), "src", "Accelerator", "Accelerator.csproj"));

        var projects = project.Descendants("ProjectReference").Select(e => Path.GetFileNameWithoutExtension(e.Attribute("Include")!.Value.Replace('\\', '/'))).ToList();
        var packages = project.Descendants("PackageReference").Select(e => e.Attribute("Include")!.Value).ToList();

        Assert.All(projects, p => Assert.Contains(p, new[] { "Accelerator.Abstractions", "Accelerator.Oci" }));
        Assert.All(packages, p => Assert.StartsWith("Microsoft.Extensions.", p, StringComparison.Ordinal));
        Assert.Empty(project.Descendants("FrameworkReference"));
    }

    [Fact]
    public void Assembly_ReferencesNoProviderAssembly()
    {
        string[] providers = ["Accelerator.Lazy", "Accelerator.Block", "Accelerator.Snapshots", "Accelerator.P2P", "Accelerator.Fuse"];

        var references = typeof(ImageAcceleratorBuilder).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.DoesNotContain(references, providers.Contains);
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Accelerator.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Accelerator.sln above {AppContext.BaseDirectory}.");
    }
}
