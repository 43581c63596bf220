using Accelerator.Hosting;
using Accelerator.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Accelerator;

/// <summary>
/// Composes an image accelerator: registries, strategies and their options. Use it with <c>new</c> and
/// <see cref="Build"/>, or through <c>services.AddImageAccelerator(...)</c>, which hands you one over an existing
/// service collection. The builder holds only <see cref="Services"/>; provider packages add extension methods to it.
/// </summary>
public sealed class ImageAcceleratorBuilder
{
    /// <summary>Creates a builder over a new service collection, for use without a host.</summary>
    public ImageAcceleratorBuilder()
        : this(new ServiceCollection())
    {
        Services.AddLogging();
        Services.AddMetrics();
    }

    /// <summary>Creates a builder over <paramref name="services"/> and registers the core services.</summary>
    public ImageAcceleratorBuilder(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        Services = services;
        services.AddOptions<ImageAcceleratorOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ImageAcceleratorOptions>, ImageAcceleratorOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new AcceleratorMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<IImageAccelerator, ImageAccelerator>();
    }

    /// <summary>The service collection this builder adds to.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Configures the facade's options.</summary>
    public ImageAcceleratorBuilder Configure(Action<ImageAcceleratorOptions> configure)
    {
        Services.Configure(configure);
        return this;
    }

    /// <summary>Sets the order in which strategies are tried.</summary>
    public ImageAcceleratorBuilder PreferStrategies(params Strategy[] strategies)
    {
        ArgumentNullException.ThrowIfNull(strategies);
        Services.Configure<ImageAcceleratorOptions>(o => o.Strategies = [.. strategies]);
        return this;
    }

    /// <summary>
    /// Adds a mounter for a strategy (the first one added for a strategy is used). Its place in the default order is
    /// the one a registration of its strategy declares, else <see cref="StrategyRegistration.DefaultOrder"/>; providers
    /// use <see cref="AddStrategy{TMounter}(Strategy, int, Func{IServiceProvider, TMounter}?)"/>, which declares it.
    /// </summary>
    public ImageAcceleratorBuilder AddMounter<TMounter>()
        where TMounter : class, IImageMounter
    {
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IImageMounter, TMounter>());
        return this;
    }

    /// <summary>
    /// Adds the strategy <paramref name="strategy"/>: its mounter (created by <paramref name="create"/>, or by the
    /// container when null) and its place in the default order, <paramref name="order"/> (lower is tried first; see
    /// <see cref="StrategyRegistration"/>). Adding a strategy again keeps the first mounter and order. This is how a
    /// provider package's <c>UseX</c> extension plugs its strategy in.
    /// </summary>
    public ImageAcceleratorBuilder AddStrategy<TMounter>(Strategy strategy, int order, Func<IServiceProvider, TMounter>? create = null)
        where TMounter : class, IImageMounter
    {
        ArgumentException.ThrowIfNullOrEmpty(strategy.Name, nameof(strategy));
        Services.TryAddEnumerable(create is null
            ? ServiceDescriptor.Singleton<IImageMounter, TMounter>()
            : ServiceDescriptor.Singleton<IImageMounter, TMounter>(create));
        // TryAddEnumerable keys instances on their type, so one registration per strategy is kept by hand.
        if (!Services.Any(d => d.ServiceType == typeof(StrategyRegistration) && d.ImplementationInstance is StrategyRegistration r && r.Strategy == strategy))
        {
            Services.AddSingleton(new StrategyRegistration(strategy, order));
        }

        return this;
    }

    /// <summary>
    /// Adds the strategy <paramref name="strategy"/> with its options: <typeparamref name="TOptions"/> configured by
    /// <paramref name="configure"/> and checked when the accelerator starts by <paramref name="validator"/> (the
    /// options' generated <c>[OptionsValidator]</c>; a failure fails the start with "Invalid <paramref name="description"/>
    /// options: REASON"); the registry client and image store resolver mounters read images through
    /// (<see cref="RegistryBuilderExtensions.AddRegistries"/>); and the mounter at <paramref name="order"/> in the default
    /// order, created by <paramref name="create"/> from the services and the options — or, when null, by its constructor
    /// with the options and the other parameters from the services.
    /// </summary>
    public ImageAcceleratorBuilder AddStrategy<TMounter, TOptions>(
        Strategy strategy,
        int order,
        Action<TOptions>? configure,
        IValidateOptions<TOptions> validator,
        string description,
        Func<IServiceProvider, TOptions, TMounter>? create = null)
        where TMounter : class, IImageMounter
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(validator);
        ArgumentException.ThrowIfNullOrEmpty(description);
        create ??= (services, options) => ActivatorUtilities.CreateInstance<TMounter>(services, options);
        this.AddRegistries();
        Services.AddStrategyOptions(configure, validator, description);
        return AddStrategy(strategy, order, services => create(services, services.GetRequiredService<IOptions<TOptions>>().Value));
    }

    /// <summary>
    /// Builds a standalone accelerator that owns its service provider. Options are validated now: invalid options
    /// throw <see cref="OptionsValidationException"/> here rather than at the first mount.
    /// </summary>
    public ImageAcceleratorHost Build()
    {
        var provider = Services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        try
        {
            provider.GetService<IStartupValidator>()?.Validate();
            return new ImageAcceleratorHost(provider);
        }
        catch
        {
            provider.Dispose();
            throw;
        }
    }
}

/// <summary>A standalone accelerator built by <see cref="ImageAcceleratorBuilder.Build"/>; disposing it releases its services.</summary>
public sealed class ImageAcceleratorHost : IImageAccelerator, IAsyncDisposable, IDisposable
{
    private readonly ServiceProvider _provider;
    private readonly IImageAccelerator _accelerator;

    internal ImageAcceleratorHost(ServiceProvider provider)
    {
        _provider = provider;
        _accelerator = provider.GetRequiredService<IImageAccelerator>();
    }

    /// <summary>The services, for resolving the parts (mounters, blob sources) directly.</summary>
    public IServiceProvider Services => _provider;

    /// <inheritdoc />
    public IReadOnlyList<Strategy> Strategies => _accelerator.Strategies;

    /// <inheritdoc />
    public Task<IMountedImage> MountAsync(ImageReference image, string mountPoint, MountOptions? options = null, CancellationToken cancellationToken = default)
        => _accelerator.MountAsync(image, mountPoint, options, cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _provider.DisposeAsync();

    /// <inheritdoc />
    public void Dispose() => _provider.Dispose();
}
