import { describe, expect, it } from 'vitest';
import { DeploySettingsError, readDeploySettings } from '../../infra/settings.js';

describe('deploy settings', () => {
  it('gives a demo stage no NAT gateway, Fargate Spot and a week of logs', () => {
    const settings = readDeploySettings('demo', {});
    expect(settings).toEqual({
      natGateways: 0,
      certificateArn: undefined,
      capacityProvider: 'FARGATE_SPOT',
      corsOrigins: [],
      apiThrottleRate: 50,
      apiThrottleBurst: 100,
      logRetentionDays: 7,
      scalerPeriodSeconds: 10,
      proberPeriodSeconds: 10,
    });
  });

  it('gives production one NAT gateway, on-demand Fargate and a month of logs', () => {
    for (const stage of ['prod', 'production']) {
      const settings = readDeploySettings(stage, {});
      expect(settings.natGateways).toBe(1);
      expect(settings.capacityProvider).toBe('FARGATE');
      expect(settings.logRetentionDays).toBe(30);
    }
  });

  it('takes every setting from the environment', () => {
    const settings = readDeploySettings('demo', {
      ORCHESTRY_NAT_GATEWAYS: '2',
      ORCHESTRY_CERTIFICATE_ARN: 'arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234',
      ORCHESTRY_CAPACITY_PROVIDER: 'fargate',
      ORCHESTRY_API_CORS_ORIGINS: 'https://console.example.com, http://localhost:5173',
      ORCHESTRY_API_THROTTLE_RATE: '20',
      ORCHESTRY_API_THROTTLE_BURST: '40',
      ORCHESTRY_LOG_RETENTION_DAYS: '90',
      SCALER_PERIOD_SECONDS: '15',
      PROBER_PERIOD_SECONDS: '5',
    });
    expect(settings).toEqual({
      natGateways: 2,
      certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234',
      capacityProvider: 'FARGATE',
      corsOrigins: ['https://console.example.com', 'http://localhost:5173'],
      apiThrottleRate: 20,
      apiThrottleBurst: 40,
      logRetentionDays: 90,
      scalerPeriodSeconds: 15,
      proberPeriodSeconds: 5,
    });
  });

  it('treats blank values as unset', () => {
    expect(readDeploySettings('demo', { ORCHESTRY_NAT_GATEWAYS: '  ', ORCHESTRY_CERTIFICATE_ARN: '' })).toMatchObject({
      natGateways: 0,
      certificateArn: undefined,
    });
  });

  it.each([
    ['ORCHESTRY_NAT_GATEWAYS', 'three', /whole number from 0 to 2/],
    ['ORCHESTRY_NAT_GATEWAYS', '3', /whole number from 0 to 2/],
    ['ORCHESTRY_CERTIFICATE_ARN', 'my-cert', /ACM certificate ARN/],
    ['ORCHESTRY_CAPACITY_PROVIDER', 'EC2', /FARGATE or FARGATE_SPOT/],
    ['ORCHESTRY_API_CORS_ORIGINS', 'console.example.com', /https:\/\/host/],
    ['ORCHESTRY_API_CORS_ORIGINS', 'https://example.com/app', /no path/],
    ['ORCHESTRY_LOG_RETENTION_DAYS', '10', /retention periods/],
    ['SCALER_PERIOD_SECONDS', '0', /from 1 to 60/],
    ['PROBER_PERIOD_SECONDS', '61', /from 1 to 60/],
  ])('rejects %s=%s naming the variable and what it accepts', (variable, value, accepted) => {
    const attempt = () => readDeploySettings('demo', { [variable]: value });
    expect(attempt).toThrow(DeploySettingsError);
    expect(attempt).toThrow(new RegExp(`^${variable}: `));
    expect(attempt).toThrow(accepted);
  });

  it('rejects a burst below the steady rate', () => {
    expect(() => readDeploySettings('demo', { ORCHESTRY_API_THROTTLE_RATE: '100', ORCHESTRY_API_THROTTLE_BURST: '50' })).toThrow(
      /^ORCHESTRY_API_THROTTLE_BURST: must be at least ORCHESTRY_API_THROTTLE_RATE \(100\)/,
    );
  });
});
