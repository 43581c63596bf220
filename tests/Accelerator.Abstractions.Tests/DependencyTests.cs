using System.Runtime.InteropServices;
using System.Xml.Linq;

namespace Accelerator.Abstractions.Tests;

/// <summary>Accelerator.Abstractions depends on the BCL only (what go-containerregistry's depcheck enforces for pkg/v1).</summary>
public sealed class DependencyTests
{
    private static readonly string[] FrameworkPrefixes = ["System.", "Microsoft.Win32."];
    private static readonly string[] FrameworkNames = ["System", "netstandard", "mscorlib"];

    [Fact]
    public void Assembly_ReferencesOnlyFrameworkAssemblies()
    {
        var assembly = typeof(Digest).Assembly;
        string runtimeDirectory = RuntimeEnvironment.GetRuntimeDirectory();
        var references = assembly.GetReferencedAssemblies();

        Assert.NotEmpty(references);
        Assert.All(references, reference =>
        {
            string name = reference.Name!;
            Assert.True(
                FrameworkNames.Contains(name) || FrameworkPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)),
                $"Accelerator.Abstractions references {name}, which is not a framework assembly.");

            // A System.* name is not enough: the assembly must ship with the runtime, not come from a package.
            Assert.True(File.Exists(Path.Combine(runtimeDirectory, name + ".dll")), $"{name} is not in the shared framework ({runtimeDirectory}).");
        });
    }

    [Fact]
    public void Project_HasNoPackageOrProjectReferences()
    {
        string project = Path.Combine(FindRepositoryRoot(), "src", "Accelerator.Abstractions", "Accelerator.Abstractions.csproj");
        var document = XDocument.Load(project);

        string[] forbidden = ["PackageReference", "ProjectReference", "FrameworkReference", "Reference"];
        var found = document.Descendants().Where(e => forbidden.Contains(e.Name.LocalName)).Select(e => e.ToString()).ToList();

        Assert.Empty(found);
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
