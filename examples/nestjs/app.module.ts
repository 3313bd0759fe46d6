// The NestJS application of examples/nestjs/main.ts: nothing in it knows about graceful.
import { Controller, Get, Injectable, Module, Query, type OnApplicationShutdown } from '@nestjs/common'
import { type HealthIndicatorResult, HealthIndicatorService, TerminusModule } from '@nestjs/terminus'

// Stands in for your database pool (pg, mysql2, TypeORM's DataSource, …).
@Injectable()
export class Database implements OnApplicationShutdown {
  async query (ms: number): Promise<string> {
    // A request that takes a while, like a database query.
    await new Promise(resolve => setTimeout(resolve, ms))
    return 'hello\n'
  }

  async ping (): Promise<void> {
    await this.query(0)
  }

  // Called by app.close(), which graceful runs after the drain: no request is using the pool any more.
  onApplicationShutdown (signal?: string): void {
    console.log(`database pool closed (${signal ?? 'no signal'})`)
  }
}

// A @nestjs/terminus health indicator, as you may already have one for a /health route.
@Injectable()
export class DatabaseHealthIndicator {
  constructor (private readonly indicators: HealthIndicatorService, private readonly database: Database) {}

  async isHealthy (): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check('database')
    try {
      await this.database.ping()
      return indicator.up()
    } catch (err) {
      return indicator.down({ message: String(err) })
    }
  }
}

@Controller()
export class AppController {
  constructor (private readonly database: Database) {}

  @Get()
  async hello (@Query('ms') ms = '20'): Promise<string> {
    return await this.database.query(Number(ms))
  }
}

@Module({
  imports: [TerminusModule],
  controllers: [AppController],
  providers: [Database, DatabaseHealthIndicator]
})
export class AppModule {}
